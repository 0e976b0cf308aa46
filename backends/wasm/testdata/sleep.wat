;; sleep: sleeps forever (poll_oneoff on a relative clock, repeated), to
;; check that sleeping guests cannot outlive their deadline.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    ;; subscription at 64: userdata u64, tag u8 = 0 (clock), clock id u32 at +16,
    ;; timeout u64 at +24, precision u64 at +32, flags u16 at +40 (0 = relative)
    (i64.store (i32.const 88) (i64.const 3600000000000))
    (loop $l
      (drop (call $poll (i32.const 64) (i32.const 256) (i32.const 1) (i32.const 512)))
      (br $l))))
