;; echo-wat: an example Stoke wasm action in WebAssembly text.
;;
;; It reads the /run envelope (one JSON line) from stdin to EOF and writes
;; {"received": <the envelope>} as one line to stdout, plus one log line to
;; stderr. Memory grows as the input needs it.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0..15: iovec and counters; 16: log line; 1024: the output.
  (data (i32.const 16) "echo-wat: echoing the envelope\n")
  (data (i32.const 1024) "{\"received\":")

  ;; write(fd, ptr, len): one fd_write through the iovec at 0.
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start")
    (local $n i32)    ;; bytes read so far, stored from 1036 on
    (local $room i32) ;; free bytes after them, keeping 2 for "}\n"
    (call $write (i32.const 2) (i32.const 16) (i32.const 31))
    (block $done
      (loop $read
        (local.set $room
          (i32.sub (i32.mul (memory.size) (i32.const 65536))
                   (i32.add (i32.const 1038) (local.get $n))))
        (if (i32.lt_u (local.get $room) (i32.const 4096))
          (then
            (br_if $done (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
            (br $read)))
        (i32.store (i32.const 0) (i32.add (i32.const 1036) (local.get $n)))
        (i32.store (i32.const 4) (local.get $room))
        (br_if $done (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br_if $done (i32.eqz (i32.load (i32.const 8))))
        (local.set $n (i32.add (local.get $n) (i32.load (i32.const 8))))
        (br $read)))
    ;; Drop the envelope's trailing newline(s).
    (block $trimmed
      (loop $trim
        (br_if $trimmed (i32.eqz (local.get $n)))
        (br_if $trimmed (i32.ne (i32.load8_u (i32.add (i32.const 1035) (local.get $n))) (i32.const 10)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $trim)))
    (i32.store8 (i32.add (i32.const 1036) (local.get $n)) (i32.const 125)) ;; '}'
    (i32.store8 (i32.add (i32.const 1037) (local.get $n)) (i32.const 10))  ;; '\n'
    (call $write (i32.const 1) (i32.const 1024) (i32.add (local.get $n) (i32.const 14)))))
