;; The per-segment hash of ContentDigest (content-digest.ts): sixteen 32-bit
;; lanes, each taking every sixteenth little-endian word of the data through
;; xxHash32's round, acc = rotl(acc + word * 0x85EBCA77, 13) * 0x9E3779B1,
;; four lanes to a SIMD register. The source of lane-hash-wasm.ts (`npm run
;; build:wasm` assembles it; a test checks the two agree, and another checks
;; the result against a plain JavaScript reading of the definition).
(module
  ;; The caller's memory: the sixteen lanes at 0..63, the data anywhere in it.
  (import "host" "memory" (memory 1))

  ;; Absorb [ptr, ptr + len); len is a multiple of 64 (the caller stages the rest).
  (func (export "absorb") (param $ptr i32) (param $len i32)
    (local $end i32) (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $p1 v128) (local $p2 v128)
    (local.set $p1 (i32x4.splat (i32.const 0x9E3779B1)))
    (local.set $p2 (i32x4.splat (i32.const 0x85EBCA77)))
    (local.set $a (v128.load (i32.const 0)))
    (local.set $b (v128.load (i32.const 16)))
    (local.set $c (v128.load (i32.const 32)))
    (local.set $d (v128.load (i32.const 48)))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $done
      (loop $stripe
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $a (i32x4.add (local.get $a) (i32x4.mul (v128.load (local.get $ptr)) (local.get $p2))))
        (local.set $a (i32x4.mul (v128.or (i32x4.shl (local.get $a) (i32.const 13)) (i32x4.shr_u (local.get $a) (i32.const 19))) (local.get $p1)))
        (local.set $b (i32x4.add (local.get $b) (i32x4.mul (v128.load offset=16 (local.get $ptr)) (local.get $p2))))
        (local.set $b (i32x4.mul (v128.or (i32x4.shl (local.get $b) (i32.const 13)) (i32x4.shr_u (local.get $b) (i32.const 19))) (local.get $p1)))
        (local.set $c (i32x4.add (local.get $c) (i32x4.mul (v128.load offset=32 (local.get $ptr)) (local.get $p2))))
        (local.set $c (i32x4.mul (v128.or (i32x4.shl (local.get $c) (i32.const 13)) (i32x4.shr_u (local.get $c) (i32.const 19))) (local.get $p1)))
        (local.set $d (i32x4.add (local.get $d) (i32x4.mul (v128.load offset=48 (local.get $ptr)) (local.get $p2))))
        (local.set $d (i32x4.mul (v128.or (i32x4.shl (local.get $d) (i32.const 13)) (i32x4.shr_u (local.get $d) (i32.const 19))) (local.get $p1)))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 64)))
        (br $stripe)))
    (v128.store (i32.const 0) (local.get $a))
    (v128.store (i32.const 16) (local.get $b))
    (v128.store (i32.const 32) (local.get $c))
    (v128.store (i32.const 48) (local.get $d)))
)
