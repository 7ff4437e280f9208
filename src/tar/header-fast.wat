;; The common tar header, decoded in WebAssembly: see header-fast.ts for why.
;; The source of header-fast-wasm.ts (`npm run build:wasm` assembles it; a test
;; checks the two agree). Anything this does not decode exactly as header.ts
;; would (the signed checksum, base-256 numbers, old-GNU sparse maps, any field
;; header.ts rejects) it hands back, and header.ts decodes the block.
(module
  ;; One page, the caller's (so that fresh instances share it, see header-fast.ts):
  ;; the 512-byte header block at 0, results from 512.
  (import "host" "memory" (memory 1))

  ;; parseOctalAt's grammar: leading spaces, a leading NUL meaning 0, octal digits,
  ;; then only NULs and spaces. -1 for anything else.
  (func $octal (param $i i32) (param $len i32) (result i64)
    (local $end i32) (local $c i32) (local $v i64)
    (local.set $end (i32.add (local.get $i) (local.get $len)))
    (block $lead_done
      (loop $lead
        (br_if $lead_done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.eqz (local.get $c)) (then (return (i64.const 0))))
        (br_if $lead_done (i32.ne (local.get $c) (i32.const 0x20)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $lead)))
    (block $digits_done
      (loop $digits
        (br_if $digits_done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $i)))
        (br_if $digits_done (i32.eqz (local.get $c)))
        (br_if $digits_done (i32.eq (local.get $c) (i32.const 0x20)))
        (local.set $c (i32.sub (local.get $c) (i32.const 0x30)))
        (if (i32.gt_u (local.get $c) (i32.const 7)) (then (return (i64.const -1))))
        (local.set $v (i64.add (i64.shl (local.get $v) (i64.const 3)) (i64.extend_i32_u (local.get $c))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $digits)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.and (i32.ne (local.get $c) (i32.const 0)) (i32.ne (local.get $c) (i32.const 0x20)))
          (then (return (i64.const -1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail)))
    (local.get $v))

  ;; A numeric field: base-256 (top bit set) is left to the caller.
  ;; Stored twice: as f64 at $out, and as i32 at 600 + ($out - 512) / 2 when below 2^30, else -1.
  (func $num (param $i i32) (param $len i32) (param $out i32) (result i32)
    (local $v i64)
    (if (i32.and (i32.load8_u (local.get $i)) (i32.const 0x80)) (then (return (i32.const 0))))
    (local.set $v (call $octal (local.get $i) (local.get $len)))
    (if (i64.lt_s (local.get $v) (i64.const 0)) (then (return (i32.const 0))))
    (f64.store (local.get $out) (f64.convert_i64_s (local.get $v)))
    (i32.store (i32.add (i32.const 600) (i32.shr_u (i32.sub (local.get $out) (i32.const 512)) (i32.const 1)))
      (if (result i32) (i64.lt_u (local.get $v) (i64.const 0x40000000))
        (then (i32.wrap_i64 (local.get $v)))
        (else (i32.const -1))))
    (i32.const 1))

  ;; Bytes before the first NUL of the field.
  (func $cstrlen (param $i i32) (param $len i32) (result i32)
    (local $n i32)
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $n) (local.get $len)))
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $i) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $scan)))
    (local.get $n))

  ;; The unsigned byte sum, the checksum field counted as spaces: 64-bit words, four 16-bit lanes.
  (func $usum (result i32)
    (local $i i32) (local $w i64) (local $even i64) (local $odd i64) (local $l i64)
    (block $done
      (loop $words
        (br_if $done (i32.ge_u (local.get $i) (i32.const 512)))
        (local.set $w (i64.load (local.get $i)))
        (local.set $even (i64.add (local.get $even) (i64.and (local.get $w) (i64.const 0x00ff00ff00ff00ff))))
        (local.set $odd (i64.add (local.get $odd) (i64.and (i64.shr_u (local.get $w) (i64.const 8)) (i64.const 0x00ff00ff00ff00ff))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $words)))
    (local.set $l (i64.add (local.get $even) (local.get $odd)))
    (local.set $l (i64.add (i64.and (local.get $l) (i64.const 0x0000ffff0000ffff))
                           (i64.and (i64.shr_u (local.get $l) (i64.const 16)) (i64.const 0x0000ffff0000ffff))))
    (local.set $l (i64.add (i64.and (local.get $l) (i64.const 0xffffffff)) (i64.shr_u (local.get $l) (i64.const 32))))
    ;; minus the field's own bytes (148..155: one 64-bit word), plus eight spaces
    (local.set $w (i64.load (i32.const 148)))
    (local.set $even (i64.add (i64.and (local.get $w) (i64.const 0x00ff00ff00ff00ff))
                              (i64.and (i64.shr_u (local.get $w) (i64.const 8)) (i64.const 0x00ff00ff00ff00ff))))
    (local.set $even (i64.add (i64.and (local.get $even) (i64.const 0x0000ffff0000ffff))
                              (i64.and (i64.shr_u (local.get $even) (i64.const 16)) (i64.const 0x0000ffff0000ffff))))
    (local.set $even (i64.add (i64.and (local.get $even) (i64.const 0xffffffff)) (i64.shr_u (local.get $even) (i64.const 32))))
    (i32.add (i32.wrap_i64 (i64.sub (local.get $l) (local.get $even))) (i32.const 256)))

  ;; 0: decoded, results from 512; 1: the caller decodes it the long way.
  ;; 512 f64 mode uid gid size mtime atime ctime devmajor devminor (8 bytes each, from 512)
  ;; 584 i32 format (0 v7, 1 ustar, 2 gnu), 588 name length, 592 link length, 596 prefix length
  ;; 600 i32 the same nine fields where below 2^30 (a small integer to JavaScript), else -1
  (func (export "decode") (result i32)
    (local $fmt i32) (local $stored i64)
    ;; an all-NUL checksum field is not 0
    (if (i32.eqz (i32.or (i32.load8_u (i32.const 148)) (i32.load8_u (i32.const 149)))) (then (return (i32.const 1))))
    (local.set $stored (call $octal (i32.const 148) (i32.const 8)))
    (if (i64.ne (local.get $stored) (i64.extend_i32_u (call $usum))) (then (return (i32.const 1))))
    ;; "ustar" at 257, then "\0" (ustar) or "  \0" (old GNU)
    (if (i32.and (i32.eq (i32.load (i32.const 257)) (i32.const 0x61747375)) (i32.eq (i32.load8_u (i32.const 261)) (i32.const 0x72)))
      (then
        (if (i32.eqz (i32.load8_u (i32.const 262)))
          (then (local.set $fmt (i32.const 1)))
          (else
            (if (i32.and (i32.and (i32.eq (i32.load8_u (i32.const 262)) (i32.const 0x20)) (i32.eq (i32.load8_u (i32.const 263)) (i32.const 0x20)))
                         (i32.eqz (i32.load8_u (i32.const 264))))
              (then (local.set $fmt (i32.const 2))))))))
    (if (i32.eqz (call $num (i32.const 100) (i32.const 8) (i32.const 512))) (then (return (i32.const 1))))
    (if (i32.eqz (call $num (i32.const 108) (i32.const 8) (i32.const 520))) (then (return (i32.const 1))))
    (if (i32.eqz (call $num (i32.const 116) (i32.const 8) (i32.const 528))) (then (return (i32.const 1))))
    (if (i32.eqz (call $num (i32.const 124) (i32.const 12) (i32.const 536))) (then (return (i32.const 1))))
    (if (i32.eqz (call $num (i32.const 136) (i32.const 12) (i32.const 544))) (then (return (i32.const 1))))
    (f64.store (i32.const 552) (f64.const 0))
    (f64.store (i32.const 560) (f64.const 0))
    (f64.store (i32.const 568) (f64.const 0))
    (f64.store (i32.const 576) (f64.const 0))
    (i32.store (i32.const 620) (i32.const 0))
    (i32.store (i32.const 624) (i32.const 0))
    (i32.store (i32.const 628) (i32.const 0))
    (i32.store (i32.const 632) (i32.const 0))
    (if (local.get $fmt)
      (then
        (if (i32.eqz (call $num (i32.const 329) (i32.const 8) (i32.const 568))) (then (return (i32.const 1))))
        (if (i32.eqz (call $num (i32.const 337) (i32.const 8) (i32.const 576))) (then (return (i32.const 1))))))
    (if (i32.eq (local.get $fmt) (i32.const 2))
      (then
        ;; old-GNU sparse headers carry a map: the long way
        (if (i32.eq (i32.load8_u (i32.const 156)) (i32.const 0x53)) (then (return (i32.const 1))))
        (if (i32.eqz (call $num (i32.const 345) (i32.const 12) (i32.const 552))) (then (return (i32.const 1))))
        (if (i32.eqz (call $num (i32.const 357) (i32.const 12) (i32.const 560))) (then (return (i32.const 1))))))
    (i32.store (i32.const 584) (local.get $fmt))
    (i32.store (i32.const 588) (call $cstrlen (i32.const 0) (i32.const 100)))
    (i32.store (i32.const 592) (call $cstrlen (i32.const 157) (i32.const 100)))
    (i32.store (i32.const 596)
      (if (result i32) (i32.and (i32.eq (local.get $fmt) (i32.const 1)) (i32.ne (i32.load8_u (i32.const 345)) (i32.const 0)))
        (then (call $cstrlen (i32.const 345) (i32.const 155)))
        (else (i32.const 0))))
    (i32.const 0))
)
