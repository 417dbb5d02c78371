;; WebAssembly SIMD kernels of @peaktrade/numeric-accel. Compiled by scripts/build-wasm.mjs (wabt) into
;; src/wasm/kernels.generated.ts at build time. All pointers are byte offsets into the exported memory;
;; the kernels are the NaN-free fast paths only (each returns 0 when it met a NaN or an infinity, and the
;; JS side then reruns its NaN-aware path).
(module
  ;; Shared memory (created by the JS side): growing it never detaches the Float64Array views handed out by
  ;; wasmArray(), unlike a non-shared memory whose ArrayBuffer is replaced on every grow.
  (import "env" "memory" (memory 1 32768 shared))

  ;; Sum of n doubles at $p: four f64x2 accumulators (eight values per iteration), scalar tail.
  (func (export "sum") (param $p i32) (param $n i32) (result f64)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $end i32) (local $s f64) (local $tail i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 3))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $a (f64x2.add (local.get $a) (v128.load offset=0 (local.get $p))))
        (local.set $b (f64x2.add (local.get $b) (v128.load offset=16 (local.get $p))))
        (local.set $c (f64x2.add (local.get $c) (v128.load offset=32 (local.get $p))))
        (local.set $d (f64x2.add (local.get $d) (v128.load offset=48 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $l)))
    (local.set $a (f64x2.add (f64x2.add (local.get $a) (local.get $b)) (f64x2.add (local.get $c) (local.get $d))))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $a)) (f64x2.extract_lane 1 (local.get $a))))
    (local.set $tail (i32.and (local.get $n) (i32.const 7)))
    (block $td
      (loop $tl
        (br_if $td (i32.eqz (local.get $tail)))
        (local.set $s (f64.add (local.get $s) (f64.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $tail (i32.sub (local.get $tail) (i32.const 1)))
        (br $tl)))
    (local.get $s))

  ;; Two doubles from two addresses are loaded as one f64x2 with v128.load64_zero + replace_lane, written out
  ;; at each use: Node 20's V8 does not inline wasm calls.

  ;; Rolling mean (mode 1), variance (2) or standard deviation (3) over full windows, outputs [$l0, $l0 + 2*$h):
  ;; lane 0 takes [$l0, $l0 + $h), lane 1 takes [$l0 + $h, $l0 + 2*$h), one f64x2 holding both. Each block of
  ;; $block outputs per lane restarts from a freshly summed window shifted by its first value K.
  (func (export "rolling_moments")
    (param $x i32) (param $out i32) (param $l0 i32) (param $h i32) (param $w i32) (param $mode i32)
    (param $invW f64) (param $invDen f64) (param $block i32) (result i32)
    (local $off i32) (local $len i32) (local $b0 i32) (local $b1 i32) (local $k i32) (local $j i32)
    (local $K v128) (local $p v128) (local $q v128) (local $a v128) (local $c v128) (local $v v128)
    (local $vw v128) (local $vd v128) (local $wb i32) (local $ia i32) (local $ib i32) (local $oa i32) (local $ob i32)
    (local.set $vw (f64x2.splat (local.get $invW)))
    (local.set $vd (f64x2.splat (local.get $invDen)))
    (local.set $wb (i32.shl (local.get $w) (i32.const 3)))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.ge_u (local.get $off) (local.get $h)))
        (local.set $len (i32.sub (local.get $h) (local.get $off)))
        (if (i32.gt_u (local.get $len) (local.get $block)) (then (local.set $len (local.get $block))))
        (local.set $b0 (i32.add (local.get $l0) (local.get $off)))
        (local.set $b1 (i32.add (local.get $b0) (local.get $h)))
        ;; K = first value of each lane's first window
        (local.set $K (f64x2.replace_lane 1 (v128.load64_zero (i32.add (local.get $x) (i32.shl (i32.add (i32.sub (local.get $b0) (local.get $w)) (i32.const 1)) (i32.const 3)))) (f64.load (i32.add (local.get $x) (i32.shl (i32.add (i32.sub (local.get $b1) (local.get $w)) (i32.const 1)) (i32.const 3))))))
        (local.set $p (v128.const f64x2 0 0))
        (local.set $q (v128.const f64x2 0 0))
        (local.set $j (i32.const 0))
        (block $init_done
          (loop $init
            (br_if $init_done (i32.ge_u (local.get $j) (local.get $w)))
            (local.set $a (f64x2.sub (f64x2.replace_lane 1 (v128.load64_zero (i32.add (local.get $x) (i32.shl (i32.sub (local.get $b0) (local.get $j)) (i32.const 3)))) (f64.load (i32.add (local.get $x) (i32.shl (i32.sub (local.get $b1) (local.get $j)) (i32.const 3)))))
              (local.get $K)))
            (local.set $p (f64x2.add (local.get $p) (local.get $a)))
            (local.set $q (f64x2.add (local.get $q) (f64x2.mul (local.get $a) (local.get $a))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $init)))
        (local.set $k (i32.const 0))
        (local.set $ia (i32.add (local.get $x) (i32.shl (local.get $b0) (i32.const 3))))
        (local.set $ib (i32.add (local.get $x) (i32.shl (local.get $b1) (i32.const 3))))
        (local.set $oa (i32.add (local.get $out) (i32.shl (local.get $b0) (i32.const 3))))
        (local.set $ob (i32.add (local.get $out) (i32.shl (local.get $b1) (i32.const 3))))
        (block $slide_done
          (loop $slide
            (br_if $slide_done (i32.ge_u (local.get $k) (local.get $len)))
            (if (i32.gt_u (local.get $k) (i32.const 0))
              (then
                (local.set $a (f64x2.sub (f64x2.replace_lane 1 (v128.load64_zero (local.get $ia)) (f64.load (local.get $ib))) (local.get $K)))
                (local.set $c (f64x2.sub (f64x2.replace_lane 1 (v128.load64_zero (i32.sub (local.get $ia) (local.get $wb))) (f64.load (i32.sub (local.get $ib) (local.get $wb)))) (local.get $K)))
                (local.set $p (f64x2.add (local.get $p) (f64x2.sub (local.get $a) (local.get $c))))
                (local.set $q (f64x2.add (local.get $q)
                  (f64x2.sub (f64x2.mul (local.get $a) (local.get $a)) (f64x2.mul (local.get $c) (local.get $c)))))))
            (if (i32.eq (local.get $mode) (i32.const 1))
              (then (local.set $v (f64x2.add (local.get $K) (f64x2.mul (local.get $p) (local.get $vw)))))
              (else
                (local.set $v (f64x2.max (v128.const f64x2 0 0)
                  (f64x2.mul (f64x2.sub (local.get $q) (f64x2.mul (f64x2.mul (local.get $p) (local.get $p)) (local.get $vw)))
                    (local.get $vd))))
                (if (i32.eq (local.get $mode) (i32.const 3)) (then (local.set $v (f64x2.sqrt (local.get $v)))))))
            (v128.store64_lane 0 (local.get $oa) (local.get $v))
            (v128.store64_lane 1 (local.get $ob) (local.get $v))
            (local.set $ia (i32.add (local.get $ia) (i32.const 8)))
            (local.set $ib (i32.add (local.get $ib) (i32.const 8)))
            (local.set $oa (i32.add (local.get $oa) (i32.const 8)))
            (local.set $ob (i32.add (local.get $ob) (i32.const 8)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $slide)))
        ;; finite check: q - q (and K - K) is 0 in both lanes only when nothing was NaN or infinite
        (local.set $c (f64x2.sub (f64x2.add (local.get $q) (f64x2.add (local.get $p) (local.get $K)))
                                 (f64x2.add (local.get $q) (f64x2.add (local.get $p) (local.get $K)))))
        (if (i32.eqz (i64x2.all_true (f64x2.eq (local.get $c) (v128.const f64x2 0 0)))) (then (return (i32.const 0))))
        (local.set $off (i32.add (local.get $off) (local.get $block)))
        (br $blocks)))
    (i32.const 1))

  ;; EMA lanes: w <- w + b*(x - w) on four lanes of $q values each, starting at $s0 (with state $start) and at
  ;; $s0 + q, + 2q, + 3q (each from its own first input as a guess; the JS side corrects the guesses).
  (func (export "ema_lanes")
    (param $x i32) (param $out i32) (param $s0 i32) (param $q i32) (param $start f64) (param $b f64) (result i32)
    (local $k i32) (local $wa v128) (local $wb v128) (local $vb v128) (local $xa v128) (local $xb v128)
    (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $i3 i32) (local $qb i32) (local $o0 i32) (local $c v128)
    (local.set $qb (i32.shl (local.get $q) (i32.const 3)))
    (local.set $i0 (i32.add (local.get $x) (i32.shl (local.get $s0) (i32.const 3))))
    (local.set $i1 (i32.add (local.get $i0) (local.get $qb)))
    (local.set $i2 (i32.add (local.get $i1) (local.get $qb)))
    (local.set $i3 (i32.add (local.get $i2) (local.get $qb)))
    (local.set $o0 (i32.sub (local.get $out) (local.get $x)))
    (local.set $vb (f64x2.splat (local.get $b)))
    (local.set $wa (f64x2.replace_lane 1 (f64x2.splat (local.get $start)) (f64.load (local.get $i1))))
    (local.set $wb (f64x2.replace_lane 1 (v128.load64_zero (local.get $i2)) (f64.load (local.get $i3))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $k) (local.get $q)))
        (local.set $xa (f64x2.replace_lane 1 (v128.load64_zero (local.get $i0)) (f64.load (local.get $i1))))
        (local.set $xb (f64x2.replace_lane 1 (v128.load64_zero (local.get $i2)) (f64.load (local.get $i3))))
        (local.set $wa (f64x2.add (local.get $wa) (f64x2.mul (local.get $vb) (f64x2.sub (local.get $xa) (local.get $wa)))))
        (local.set $wb (f64x2.add (local.get $wb) (f64x2.mul (local.get $vb) (f64x2.sub (local.get $xb) (local.get $wb)))))
        (v128.store64_lane 0 (i32.add (local.get $i0) (local.get $o0)) (local.get $wa))
        (v128.store64_lane 1 (i32.add (local.get $i1) (local.get $o0)) (local.get $wa))
        (v128.store64_lane 0 (i32.add (local.get $i2) (local.get $o0)) (local.get $wb))
        (v128.store64_lane 1 (i32.add (local.get $i3) (local.get $o0)) (local.get $wb))
        (local.set $i0 (i32.add (local.get $i0) (i32.const 8)))
        (local.set $i1 (i32.add (local.get $i1) (i32.const 8)))
        (local.set $i2 (i32.add (local.get $i2) (i32.const 8)))
        (local.set $i3 (i32.add (local.get $i3) (i32.const 8)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $l)))
    (local.set $c (f64x2.add (local.get $wa) (local.get $wb)))
    (i64x2.all_true (f64x2.eq (f64x2.sub (local.get $c) (local.get $c)) (v128.const f64x2 0 0))))
)
