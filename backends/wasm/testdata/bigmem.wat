;; bigmem: declares 20 MiB of initial memory (for a 16 MiB limit).
(module
  (memory (export "memory") 320)
  (func (export "_start")))
