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

  ;; Rolling mean (mode 1), variance (2) or standard deviation (3) over full windows, outputs [$l0, $l0 + 2*$h),
  ;; starting at pair $start. One f64x2 holds two neighbouring outputs (i, i + 1), so loads and the store are
  ;; contiguous v128s. Each block of $block pairs restarts from freshly summed windows shifted by K = the first
  ;; value of the block's first window. Between pairs, each lane slides by two values; the per-value increments
  ;; g_j = a_j - c_j and h_j = g_j (a_j + c_j) (a = x_j - K entering, c = x_j-w - K leaving) are computed once
  ;; for two neighbouring j as G_j = (g_j, g_j+1) and shared by both lanes with a shuffle:
  ;; P_i = P_i-2 + G_i-1 + (g_i, g_i+1), Q likewise with H.
  ;; Returns the number of pairs done when it stops before a block the JS side must redo (it met a NaN or an
  ;; infinity, or, for var/std, a window whose variance is within rounding noise of 0 — possibly a constant
  ;; window, which pandas reports as exactly 0); $h when all are done.
  (func (export "rolling_moments")
    (param $x i32) (param $out i32) (param $l0 i32) (param $h i32) (param $start i32) (param $w i32)
    (param $mode i32) (param $invW f64) (param $invDen f64) (param $block i32) (param $tiny f64) (result i32)
    (local $off i32) (local $len i32) (local $b i32) (local $k i32) (local $j i32) (local $pa i32) (local $pc i32) (local $po i32)
    (local $K v128) (local $P v128) (local $Q v128) (local $A v128) (local $B v128) (local $C v128)
    (local $G v128) (local $H v128) (local $Gn v128) (local $Hn v128) (local $v v128) (local $Mn v128) (local $Mq v128)
    (local $vw v128) (local $vd v128) (local $vc v128) (local $wb i32)
    (local.set $vw (f64x2.splat (local.get $invW)))
    (local.set $vd (f64x2.splat (local.get $invDen)))
    (local.set $vc (f64x2.splat (f64.mul (local.get $invW) (local.get $invDen))))
    (local.set $wb (i32.shl (local.get $w) (i32.const 3)))
    (local.set $off (local.get $start))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.ge_u (local.get $off) (local.get $h)))
        (local.set $len (i32.sub (local.get $h) (local.get $off)))
        (if (i32.gt_u (local.get $len) (local.get $block)) (then (local.set $len (local.get $block))))
        (local.set $b (i32.add (local.get $l0) (i32.shl (local.get $off) (i32.const 1))))
        ;; the windows ending at b and b + 1, summed directly; $pa walks x[b - w + 1 ..]
        (local.set $pa (i32.add (local.get $x) (i32.shl (i32.add (i32.sub (local.get $b) (local.get $w)) (i32.const 1)) (i32.const 3))))
        (local.set $K (v128.load64_splat (local.get $pa)))
        (local.set $P (v128.const f64x2 0 0))
        (local.set $Q (v128.const f64x2 0 0))
        (local.set $j (i32.const 0))
        (block $init_done
          (loop $init
            (br_if $init_done (i32.ge_u (local.get $j) (local.get $w)))
            (local.set $A (f64x2.sub (v128.load (local.get $pa)) (local.get $K)))
            (local.set $P (f64x2.add (local.get $P) (local.get $A)))
            (local.set $Q (f64x2.add (local.get $Q) (f64x2.mul (local.get $A) (local.get $A))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 8)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $init)))
        ;; G, H at j = b + 1 (used by the pair b + 2); $pa = &x[j], $pc = &x[j - w]
        (local.set $pa (i32.add (local.get $x) (i32.shl (i32.add (local.get $b) (i32.const 1)) (i32.const 3))))
        (local.set $pc (i32.sub (local.get $pa) (local.get $wb)))
        (local.set $A (f64x2.sub (v128.load (local.get $pa)) (local.get $K)))
        (local.set $C (f64x2.sub (v128.load (local.get $pc)) (local.get $K)))
        (local.set $G (f64x2.sub (local.get $A) (local.get $C)))
        (local.set $H (f64x2.mul (local.get $G) (f64x2.add (local.get $A) (local.get $C))))
        (local.set $po (i32.add (local.get $out) (i32.shl (local.get $b) (i32.const 3))))
        (local.set $Mn (v128.const f64x2 inf inf))
        (local.set $Mq (v128.const f64x2 0 0))
        ;; One loop per mode, so the loop body has no mode test: output pair k, then slide to pair k + 1.
        (if (i32.eq (local.get $mode) (i32.const 1))
          (then
            (local.set $k (i32.const 0))
            (block $slide_mean_done
              (loop $slide_mean
              (local.set $v (f64x2.add (local.get $K) (f64x2.mul (local.get $P) (local.get $vw))))
              (v128.store (local.get $po) (local.get $v))
              (local.set $po (i32.add (local.get $po) (i32.const 16)))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br_if $slide_mean_done (i32.ge_u (local.get $k) (local.get $len)))
              ;; slide to pair i = b + 2k: G, H hold j = i - 1; load j = i + 1 (its second lane is used by the
              ;; next pair only, so the read past the last pair's values is never used)
              (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
              (local.set $pc (i32.add (local.get $pc) (i32.const 16)))
              (local.set $A (f64x2.sub (v128.load (local.get $pa)) (local.get $K)))
              (local.set $C (f64x2.sub (v128.load (local.get $pc)) (local.get $K)))
              (local.set $Gn (f64x2.sub (local.get $A) (local.get $C)))
              (local.set $Hn (f64x2.mul (local.get $Gn) (f64x2.add (local.get $A) (local.get $C))))
              (local.set $P (f64x2.add (local.get $P) (f64x2.add (local.get $G)
                (i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $G) (local.get $Gn)))))
              (local.set $Q (f64x2.add (local.get $Q) (f64x2.add (local.get $H)
                (i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $H) (local.get $Hn)))))
              (local.set $G (local.get $Gn))
              (local.set $H (local.get $Hn))
              (br $slide_mean)))
          )
          (else
            (if (i32.eq (local.get $mode) (i32.const 3))
              (then
            (local.set $k (i32.const 0))
            (block $slide_std_done
              (loop $slide_std
              (local.set $v (f64x2.sub (f64x2.mul (local.get $Q) (local.get $vd))
                                       (f64x2.mul (f64x2.mul (local.get $P) (local.get $P)) (local.get $vc))))
              ;; smallest variance and largest Q of the block, for the noise test below (pmin/pmax: one instruction)
              (local.set $Mn (f64x2.pmin (local.get $Mn) (local.get $v)))
              (local.set $Mq (f64x2.pmax (local.get $Mq) (local.get $Q)))
              (local.set $v (f64x2.pmax (v128.const f64x2 0 0) (local.get $v)))
              (local.set $v (f64x2.sqrt (local.get $v)))
              (v128.store (local.get $po) (local.get $v))
              (local.set $po (i32.add (local.get $po) (i32.const 16)))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br_if $slide_std_done (i32.ge_u (local.get $k) (local.get $len)))
              ;; slide to pair i = b + 2k: G, H hold j = i - 1; load j = i + 1 (its second lane is used by the
              ;; next pair only, so the read past the last pair's values is never used)
              (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
              (local.set $pc (i32.add (local.get $pc) (i32.const 16)))
              (local.set $A (f64x2.sub (v128.load (local.get $pa)) (local.get $K)))
              (local.set $C (f64x2.sub (v128.load (local.get $pc)) (local.get $K)))
              (local.set $Gn (f64x2.sub (local.get $A) (local.get $C)))
              (local.set $Hn (f64x2.mul (local.get $Gn) (f64x2.add (local.get $A) (local.get $C))))
              (local.set $P (f64x2.add (local.get $P) (f64x2.add (local.get $G)
                (i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $G) (local.get $Gn)))))
              (local.set $Q (f64x2.add (local.get $Q) (f64x2.add (local.get $H)
                (i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $H) (local.get $Hn)))))
              (local.set $G (local.get $Gn))
              (local.set $H (local.get $Hn))
              (br $slide_std)))
              )
              (else
            (local.set $k (i32.const 0))
            (block $slide_var_done
              (loop $slide_var
              (local.set $v (f64x2.sub (f64x2.mul (local.get $Q) (local.get $vd))
                                       (f64x2.mul (f64x2.mul (local.get $P) (local.get $P)) (local.get $vc))))
              ;; smallest variance and largest Q of the block, for the noise test below (pmin/pmax: one instruction)
              (local.set $Mn (f64x2.pmin (local.get $Mn) (local.get $v)))
              (local.set $Mq (f64x2.pmax (local.get $Mq) (local.get $Q)))
              (local.set $v (f64x2.pmax (v128.const f64x2 0 0) (local.get $v)))
              (v128.store (local.get $po) (local.get $v))
              (local.set $po (i32.add (local.get $po) (i32.const 16)))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br_if $slide_var_done (i32.ge_u (local.get $k) (local.get $len)))
              ;; slide to pair i = b + 2k: G, H hold j = i - 1; load j = i + 1 (its second lane is used by the
              ;; next pair only, so the read past the last pair's values is never used)
              (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
              (local.set $pc (i32.add (local.get $pc) (i32.const 16)))
              (local.set $A (f64x2.sub (v128.load (local.get $pa)) (local.get $K)))
              (local.set $C (f64x2.sub (v128.load (local.get $pc)) (local.get $K)))
              (local.set $Gn (f64x2.sub (local.get $A) (local.get $C)))
              (local.set $Hn (f64x2.mul (local.get $Gn) (f64x2.add (local.get $A) (local.get $C))))
              (local.set $P (f64x2.add (local.get $P) (f64x2.add (local.get $G)
                (i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $G) (local.get $Gn)))))
              (local.set $Q (f64x2.add (local.get $Q) (f64x2.add (local.get $H)
                (i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $H) (local.get $Hn)))))
              (local.set $G (local.get $Gn))
              (local.set $H (local.get $Hn))
              (br $slide_var)))
              ))))
        ;; finite check: Q - Q (and P, K) is 0 in both lanes only when nothing was NaN or infinite
        (local.set $C (f64x2.add (local.get $Q) (f64x2.add (local.get $P) (local.get $K))))
        (local.set $C (f64x2.sub (local.get $C) (local.get $C)))
        (if (i32.eqz (i64x2.all_true (f64x2.eq (local.get $C) (v128.const f64x2 0 0)))) (then (return (local.get $off))))
        ;; noise test (var/std): a variance ≤ tiny · max Q of the block may be a constant window's rounding noise
        ;; (a lane whose Q stayed exactly 0 held only K: its variances are exactly 0 already)
        (if (i32.ne (local.get $mode) (i32.const 1))
          (then
            (if (v128.any_true (v128.and (f64x2.gt (local.get $Mq) (v128.const f64x2 0 0))
                  (f64x2.le (local.get $Mn) (f64x2.mul (local.get $Mq) (f64x2.splat (local.get $tiny))))))
              (then (return (local.get $off))))))
        (local.set $off (i32.add (local.get $off) (local.get $len)))
        (br $blocks)))
    (local.get $h))

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

  ;; Fused SMA-crossover backtest over bars [$from, $to) ($from ≥ $slow − 1), the scalar twin of crossSpan in
  ;; src/backtest.ts (same arithmetic, same order, so the results are identical): sliding sums of the fast and slow
  ;; windows shifted by K (re-summed every $block bars), position +1 / $short / 0 from the sign of the mean
  ;; difference, equity g·initial with g *= 1 + (held·r − cost·|p − held|), and maxDrawdown's running peak and
  ;; deepest drawdown. $pos = 0: no position output. The running state is read from and written back to 8 doubles
  ;; at $st: g, held, turnover, peak, peakAt, best, bestPeakAt, troughAt. Returns 0 (state not written) when a
  ;; NaN or an infinity showed up.
  (func (export "sma_cross")
    (param $x i32) (param $out i32) (param $pos i32) (param $from i32) (param $to i32) (param $fast i32)
    (param $slow i32) (param $short f64) (param $cost f64) (param $initial f64) (param $block i32) (param $st i32)
    (result i32)
    (local $b i32) (local $e i32) (local $t i32) (local $j i32) (local $pt i32)
    (local $K f64) (local $pF f64) (local $pS f64) (local $a f64) (local $xv f64) (local $xp f64) (local $d f64)
    (local $p f64) (local $r f64) (local $turn f64) (local $eq f64) (local $dd f64) (local $lim f64)
    (local $invF f64) (local $invS f64) (local $g f64) (local $held f64) (local $turnover f64) (local $peak f64)
    (local $best f64) (local $peakAt i32) (local $bestPeakAt i32) (local $troughAt i32) (local $fb i32) (local $sb i32)
    (local.set $invF (f64.div (f64.const 1) (f64.convert_i32_u (local.get $fast))))
    (local.set $invS (f64.div (f64.const 1) (f64.convert_i32_u (local.get $slow))))
    (local.set $fb (i32.shl (local.get $fast) (i32.const 3)))
    (local.set $sb (i32.shl (local.get $slow) (i32.const 3)))
    (local.set $g (f64.load offset=0 (local.get $st)))
    (local.set $held (f64.load offset=8 (local.get $st)))
    (local.set $turnover (f64.load offset=16 (local.get $st)))
    (local.set $peak (f64.load offset=24 (local.get $st)))
    (local.set $peakAt (i32.trunc_sat_f64_s (f64.load offset=32 (local.get $st))))
    (local.set $best (f64.load offset=40 (local.get $st)))
    (local.set $bestPeakAt (i32.trunc_sat_f64_s (f64.load offset=48 (local.get $st))))
    (local.set $troughAt (i32.trunc_sat_f64_s (f64.load offset=56 (local.get $st))))
    (local.set $lim (call $limit (local.get $peak) (local.get $best)))
    (local.set $b (local.get $from))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.ge_u (local.get $b) (local.get $to)))
        (local.set $e (i32.add (local.get $b) (local.get $block)))
        (if (i32.gt_u (local.get $e) (local.get $to)) (then (local.set $e (local.get $to))))
        ;; K and the windows ending at b
        (local.set $K (f64.load (i32.add (local.get $x) (i32.shl (i32.add (i32.sub (local.get $b) (local.get $slow)) (i32.const 1)) (i32.const 3)))))
        (local.set $pS (f64.const 0))
        (local.set $pF (f64.const 0))
        (local.set $j (i32.add (i32.sub (local.get $b) (local.get $slow)) (i32.const 1)))
        (block $s_done (loop $s
          (br_if $s_done (i32.gt_s (local.get $j) (i32.sub (local.get $b) (local.get $fast))))
          (local.set $pS (f64.add (local.get $pS) (f64.sub (f64.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3)))) (local.get $K))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $s)))
        (block $f_done (loop $f
          (br_if $f_done (i32.gt_s (local.get $j) (local.get $b)))
          (local.set $pF (f64.add (local.get $pF) (f64.sub (f64.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3)))) (local.get $K))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $f)))
        (local.set $pS (f64.add (local.get $pS) (local.get $pF)))
        (local.set $t (local.get $b))
        (local.set $pt (i32.add (local.get $x) (i32.shl (local.get $b) (i32.const 3))))
        (local.set $xp (f64.load offset=0 (i32.sub (local.get $pt) (i32.const 8))))
        (loop $bars
          (local.set $xv (f64.load (local.get $pt)))
          (if (i32.gt_u (local.get $t) (local.get $b))
            (then
              (local.set $a (f64.sub (local.get $xv) (local.get $K)))
              (local.set $pF (f64.add (local.get $pF) (f64.sub (local.get $a) (f64.sub (f64.load (i32.sub (local.get $pt) (local.get $fb))) (local.get $K)))))
              (local.set $pS (f64.add (local.get $pS) (f64.sub (local.get $a) (f64.sub (f64.load (i32.sub (local.get $pt) (local.get $sb))) (local.get $K)))))))
          (local.set $d (f64.sub (f64.mul (local.get $pF) (local.get $invF)) (f64.mul (local.get $pS) (local.get $invS))))
          (local.set $p (select (f64.const 1) (select (local.get $short) (f64.const 0) (f64.lt (local.get $d) (f64.const 0))) (f64.gt (local.get $d) (f64.const 0))))
          (if (local.get $pos)
            (then (f64.store (i32.add (local.get $pos) (i32.shl (local.get $t) (i32.const 3))) (local.get $p))))
          (local.set $r (f64.sub (f64.div (local.get $xv) (local.get $xp)) (f64.const 1)))
          (local.set $xp (local.get $xv))
          (local.set $turn (f64.abs (f64.sub (local.get $p) (local.get $held))))
          (local.set $turnover (f64.add (local.get $turnover) (local.get $turn)))
          (local.set $g (f64.mul (local.get $g)
            (f64.add (f64.const 1) (f64.sub (f64.mul (local.get $held) (local.get $r)) (f64.mul (local.get $cost) (local.get $turn))))))
          (local.set $held (local.get $p))
          (local.set $eq (f64.mul (local.get $initial) (local.get $g)))
          (f64.store (i32.add (local.get $out) (i32.shl (local.get $t) (i32.const 3))) (local.get $eq))
          (if (f64.gt (local.get $eq) (local.get $peak))
            (then
              (local.set $peak (local.get $eq))
              (local.set $peakAt (local.get $t))
              (if (f64.eq (local.get $best) (f64.const inf))
                (then
                  (local.set $best (f64.const 0))
                  (local.set $troughAt (local.get $t))
                  (local.set $bestPeakAt (local.get $t))))
              (local.set $lim (call $limit (local.get $peak) (local.get $best))))
            (else
              (if (i32.and (f64.lt (local.get $eq) (local.get $peak)) (f64.lt (local.get $eq) (local.get $lim)))
                (then
                  (local.set $dd (f64.sub (f64.div (local.get $eq) (local.get $peak)) (f64.const 1)))
                  (if (f64.lt (local.get $dd) (local.get $best))
                    (then
                      (local.set $best (local.get $dd))
                      (local.set $troughAt (local.get $t))
                      (local.set $bestPeakAt (local.get $peakAt))
                      (local.set $lim (call $limit (local.get $peak) (local.get $best)))))))))
          (local.set $pt (i32.add (local.get $pt) (i32.const 8)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br_if $bars (i32.lt_u (local.get $t) (local.get $e))))
        ;; finite check (x − x is 0 only for finite x)
        (local.set $a (f64.add (f64.add (local.get $pS) (local.get $pF)) (f64.add (local.get $K) (local.get $g))))
        (if (f64.ne (f64.sub (local.get $a) (local.get $a)) (f64.const 0)) (then (return (i32.const 0))))
        (local.set $b (local.get $e))
        (br $blocks)))
    (f64.store offset=0 (local.get $st) (local.get $g))
    (f64.store offset=8 (local.get $st) (local.get $held))
    (f64.store offset=16 (local.get $st) (local.get $turnover))
    (f64.store offset=24 (local.get $st) (local.get $peak))
    (f64.store offset=32 (local.get $st) (f64.convert_i32_s (local.get $peakAt)))
    (f64.store offset=40 (local.get $st) (local.get $best))
    (f64.store offset=48 (local.get $st) (f64.convert_i32_s (local.get $bestPeakAt)))
    (f64.store offset=56 (local.get $st) (f64.convert_i32_s (local.get $troughAt)))
    (i32.const 1))

  ;; limit() of src/backtest.ts: e ≥ this cannot set a deeper drawdown than $best from $peak
  (func $limit (param $peak f64) (param $best f64) (result f64)
    (local $a f64)
    (if (i32.or (i32.eqz (f64.gt (local.get $peak) (f64.const 0))) (f64.eq (local.get $best) (f64.const inf)))
      (then (return (f64.const inf))))
    (local.set $a (f64.mul (local.get $peak) (f64.add (f64.const 1) (local.get $best))))
    (f64.add (local.get $a) (f64.mul (f64.const 0x1p-49) (f64.add (f64.abs (local.get $a)) (local.get $peak)))))
)
