package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/stokehq/stoke/backends/docker"
	"github.com/stokehq/stoke/backends/runc"
	"github.com/stokehq/stoke/sdk"
)

// nodeEcho is the Node.js action of the container paths.
const nodeEcho = "function main(params) { return params; }"

const nodeImage = "stoke/runtime-nodejs20:latest"

// containerBackend opens the backend named name in this process, to
// measure its raw /run and create with no platform around them.
func containerBackend(ctx context.Context, name, runtimesDir string) (sdk.Backend, error) {
	switch name {
	case "docker":
		return docker.New(ctx, docker.Config{})
	case "runc":
		return runc.New(ctx, runc.Config{RootfsDirs: map[string]string{"nodejs:20": filepath.Join(runtimesDir, "nodejs20", "rootfs")}})
	}
	return nil, fmt.Errorf("unknown backend %q", name)
}

// containerAvailable says why a container backend cannot be measured, or
// "" if it can.
func containerAvailable(name, pluginDir, runtimesDir string) string {
	if _, err := os.Stat(filepath.Join(pluginDir, "stoke-backend-"+name)); err != nil {
		return fmt.Sprintf("no %s plugin in %s (make build)", name, pluginDir)
	}
	switch name {
	case "docker":
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return "docker: " + err.Error()
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cli.ImageInspect(ctx, nodeImage); err != nil {
			return fmt.Sprintf("docker: image %s: %v (make images)", nodeImage, err)
		}
	case "runc":
		if os.Geteuid() != 0 {
			return "runc needs root"
		}
		if _, err := os.Stat(filepath.Join(runtimesDir, "nodejs20", "rootfs")); err != nil {
			return fmt.Sprintf("runc: no nodejs20 rootfs in %s (make images)", runtimesDir)
		}
	}
	return ""
}

// directContainerRun measures /run on a warm Node.js sandbox created by
// the backend in this process, then destroys it.
func directContainerRun(ctx context.Context, be sdk.Backend, name string, n int) (benchResult, error) {
	sb, err := be.Create(ctx, &sdk.Spec{Kind: "nodejs:20", MemoryMB: 256})
	if err != nil {
		return benchResult{}, fmt.Errorf("%s create: %w", name, err)
	}
	defer be.Destroy(context.WithoutCancel(ctx), sb.ID)
	var conn sdk.Conn
	if d, ok := be.(sdk.Dialer); ok {
		conn, err = d.Dial(sb)
	} else {
		conn, err = sdk.Dial(sb.Endpoint)
	}
	if err != nil {
		return benchResult{}, fmt.Errorf("%s dial: %w", name, err)
	}
	defer conn.Close()
	return directRunConn(ctx, conn, "direct-run-"+name+"-node", "/run on a warm "+name+" sandbox, no platform",
		&sdk.Init{Name: "echo", Main: "main", Code: nodeEcho}, n)
}

// backendCreate measures the backend's own Create (container create and
// start until its proxy accepts connections) and Destroy, n times.
func backendCreate(ctx context.Context, be sdk.Backend, name string, n int) (benchResult, error) {
	var lat []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		sb, err := be.Create(ctx, &sdk.Spec{Kind: "nodejs:20", MemoryMB: 256})
		if err != nil {
			return benchResult{}, fmt.Errorf("%s create: %w", name, err)
		}
		lat = append(lat, time.Since(t0))
		be.Destroy(ctx, sb.ID)
	}
	return summarize("raw-"+name+"-backend-create", name+" backend Create: create + start + proxy ready", lat, 0), nil
}

// rawDockerCreateStart is the floor of a docker cold start: the Engine
// API's create and start of the Node.js image, nothing else.
func rawDockerCreateStart(ctx context.Context, n int) (benchResult, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return benchResult{}, err
	}
	defer cli.Close()
	var lat []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		c, err := cli.ContainerCreate(ctx, &container.Config{Image: nodeImage, Labels: map[string]string{"stoke-bench": "raw"}},
			&container.HostConfig{}, nil, nil, "")
		if err != nil {
			return benchResult{}, fmt.Errorf("docker create: %w", err)
		}
		err = cli.ContainerStart(ctx, c.ID, container.StartOptions{})
		lat = append(lat, time.Since(t0))
		cli.ContainerRemove(context.WithoutCancel(ctx), c.ID, container.RemoveOptions{Force: true})
		if err != nil {
			return benchResult{}, fmt.Errorf("docker start: %w", err)
		}
	}
	return summarize("raw-docker-create-start", "Engine API create + start of "+nodeImage, lat, 0), nil
}

func joinSkips(s []string) string { return strings.Join(s, "; ") }
