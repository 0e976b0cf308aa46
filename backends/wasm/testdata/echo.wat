;; echo: reads stdin to EOF and writes {"received":<input>} as the last
;; stdout line, after one stdout log line and one stderr log line.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "echo: start\n")
  (data (i32.const 32) "echo: to stderr\n")
  (data (i32.const 1024) "{\"received\":")
  ;; write(fd, ptr, len) via the iovec at 0 and nwritten at 8
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (local $n i32) (local $got i32)
    (call $write (i32.const 1) (i32.const 16) (i32.const 12))
    (call $write (i32.const 2) (i32.const 32) (i32.const 16))
    (block $done
      (loop $read
        (i32.store (i32.const 0) (i32.add (i32.const 1036) (local.get $n)))
        (i32.store (i32.const 4) (i32.sub (i32.const 130000) (local.get $n)))
        (br_if $done (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $got (i32.load (i32.const 8)))
        (br_if $done (i32.eqz (local.get $got)))
        (local.set $n (i32.add (local.get $n) (local.get $got)))
        (br $read)))
    (block $s
      (loop $l
        (br_if $s (i32.eqz (local.get $n)))
        (br_if $s (i32.ne (i32.load8_u (i32.add (i32.const 1035) (local.get $n))) (i32.const 10)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (i32.store8 (i32.add (i32.const 1036) (local.get $n)) (i32.const 125))
    (i32.store8 (i32.add (i32.const 1037) (local.get $n)) (i32.const 10))
    (call $write (i32.const 1) (i32.const 1024) (i32.add (local.get $n) (i32.const 14)))))
