// Package images assembles Stoke's runtime images from the files of the
// machine it runs on, with no registry and no base image: for each runtime
// a minimal root filesystem (the static action proxy, the launcher, the
// language binary stripped of debug info, its shared libraries found with
// ldd), then `docker import` of that tree. The same rootfs directories
// serve the runc backend.
//
// Inputs are fingerprinted (contents of the small files, path, size, mode
// and mtime of host files, the dpkg database for the libraries), and a
// runtime whose fingerprint matches its last build and whose image exists
// is skipped, so a rebuild with nothing changed costs a few stats and one
// `docker image inspect`.
package images
