import { InvalidOptionError, PortfolioError, describe } from './errors.js';

/** Options of {@link Portfolio}. */
export interface PortfolioOptions {
  /** Asset symbols (unique), or a count for assets named by index (`'0'`, `'1'`, ...). */
  readonly assets: readonly string[] | number;
  /** Starting cash, finite. Default 0. */
  readonly cash?: number;
}

/** One order produced by {@link Portfolio.rebalanceTo}. Plain data. */
export interface Order {
  /** Asset index. */
  readonly asset: number;
  readonly symbol: string;
  /** Signed quantity: > 0 buy, < 0 sell. */
  readonly qty: number;
  /** The mark the order was sized at. */
  readonly price: number;
}

/** A plain-data copy of a portfolio's state. */
export interface PortfolioSnapshot {
  readonly symbols: string[];
  readonly cash: number;
  readonly equity: number;
  readonly quantities: Float64Array;
  readonly prices: Float64Array;
  readonly avgCosts: Float64Array;
  readonly realisedPnl: Float64Array;
  readonly unrealisedPnl: Float64Array;
  readonly fees: number;
}

/**
 * A multi-asset portfolio kept as struct-of-arrays (`Float64Array` per field, one slot per asset).
 *
 * Accounting: average-cost basis per asset; realised P&L accrues when a fill reduces or flips a
 * position; unrealised P&L is `qty · (mark − avgCost)`. Cash pays `qty · price + fee` per fill. At
 * any time `equity = initialCash + realised + unrealised − fees` (P&L conservation).
 *
 * Market value and gross exposure are maintained incrementally, so a fill or a one-asset tick
 * ({@link Portfolio.updatePrice}) is O(1); {@link Portfolio.markToMarket} recomputes them in one
 * pass over the assets (about 1–2 ns per asset) and allocates nothing.
 */
export class Portfolio {
  readonly #symbols: string[];
  readonly #index = new Map<string, number>();
  readonly #qty: Float64Array;
  readonly #avg: Float64Array;
  readonly #px: Float64Array;
  readonly #real: Float64Array;
  readonly #initialCash: number;
  #cash: number;
  #fees = 0;
  /** Σ qty·px */
  #mv = 0;
  /** Σ |qty·px| */
  #gross = 0;
  /** Σ qty·avg */
  #cost = 0;

  constructor(options: PortfolioOptions) {
    const o = options as Partial<PortfolioOptions> | undefined;
    if (o === null || typeof o !== 'object') {
      throw new InvalidOptionError(
        'options',
        o,
        "expected { assets: ['AAPL', ...] | count, cash?: number }",
      );
    }
    const a = o.assets;
    let symbols: string[];
    if (typeof a === 'number') {
      if (!Number.isInteger(a) || a < 1 || a > 1e7)
        throw new InvalidOptionError(
          'assets',
          a,
          'expected an integer from 1 to 10 000 000, or an array of symbols',
        );
      symbols = Array.from({ length: a }, (_, i) => String(i));
    } else if (Array.isArray(a) && a.length > 0 && a.every((s) => typeof s === 'string')) {
      symbols = [...a];
    } else {
      throw new InvalidOptionError(
        'assets',
        describe(a),
        'expected a non-empty array of symbol strings or a positive count',
      );
    }
    symbols.forEach((s, i) => {
      if (this.#index.has(s)) throw new InvalidOptionError('assets', s, 'symbols must be unique');
      this.#index.set(s, i);
    });
    const cash = o.cash ?? 0;
    if (typeof cash !== 'number' || !Number.isFinite(cash))
      throw new InvalidOptionError('cash', cash, 'expected a finite number');
    this.#symbols = symbols;
    const n = symbols.length;
    this.#qty = new Float64Array(n);
    this.#avg = new Float64Array(n);
    this.#px = new Float64Array(n);
    this.#real = new Float64Array(n);
    this.#initialCash = cash;
    this.#cash = cash;
  }

  /** Number of assets. */
  get size(): number {
    return this.#symbols.length;
  }
  /** Asset symbols in index order (a copy). */
  get symbols(): string[] {
    return [...this.#symbols];
  }
  /** Index of `symbol`; throws {@link PortfolioError} for an unknown symbol. */
  indexOf(symbol: string): number {
    const i = this.#index.get(symbol);
    if (i === undefined)
      throw new PortfolioError(
        `Unknown asset ${describe(symbol)}; known: ${this.#symbols.slice(0, 10).join(', ')}${this.#symbols.length > 10 ? ', ...' : ''}`,
      );
    return i;
  }
  #resolve(asset: number | string): number {
    if (typeof asset === 'string') return this.indexOf(asset);
    if (!Number.isInteger(asset) || asset < 0 || asset >= this.#symbols.length) {
      throw new PortfolioError(
        `Invalid asset index ${describe(asset)}: expected an integer from 0 to ${this.#symbols.length - 1}`,
      );
    }
    return asset;
  }

  /**
   * Apply an executed fill: `qty` signed units (> 0 buy, < 0 sell) at `price`, paying `fee` (≥ 0, cash).
   * Updates cash, the position, its average cost, realised P&L, and marks the asset at `price`. O(1).
   */
  applyFill(asset: number | string, qty: number, price: number, fee = 0): void {
    const i = this.#resolve(asset);
    if (!Number.isFinite(qty))
      throw new PortfolioError(`Invalid fill qty ${describe(qty)}: expected a finite number`);
    if (!Number.isFinite(price) || price < 0)
      throw new PortfolioError(
        `Invalid fill price ${describe(price)}: expected a finite number ≥ 0`,
      );
    if (!Number.isFinite(fee) || fee < 0)
      throw new PortfolioError(`Invalid fill fee ${describe(fee)}: expected a finite number ≥ 0`);
    const q = this.#qty[i]!;
    const a = this.#avg[i]!;
    const oldPx = this.#px[i]!;
    let nq = q + qty;
    let na = a;
    if (q === 0 || q > 0 === qty > 0) {
      na = nq === 0 ? 0 : (q * a + qty * price) / nq;
    } else {
      const closed = Math.min(Math.abs(qty), Math.abs(q));
      this.#real[i] = this.#real[i]! + closed * (price - a) * (q > 0 ? 1 : -1);
      if (Math.abs(qty) > Math.abs(q)) na = price;
      else if (Math.abs(qty) === Math.abs(q)) {
        nq = 0;
        na = 0;
      }
    }
    this.#qty[i] = nq;
    this.#avg[i] = na;
    this.#px[i] = price;
    this.#cash -= qty * price + fee;
    this.#fees += fee;
    this.#mv += nq * price - q * oldPx;
    this.#gross += Math.abs(nq * price) - Math.abs(q * oldPx);
    this.#cost += nq * na - q * a;
    // After a NaN or infinite mark the running sums are NaN, and adding deltas never cleans them:
    // re-sum from the marks (rare path), so they are finite again once every mark is.
    if (!Number.isFinite(this.#mv + this.#gross)) this.#resum();
  }

  /** Recompute market value and gross exposure from the positions and marks. O(assets). */
  #resum(): void {
    const qty = this.#qty;
    const px = this.#px;
    let mv = 0;
    let gross = 0;
    for (let i = 0; i < qty.length; i++) {
      const v = qty[i]! * px[i]!;
      mv += v;
      gross += Math.abs(v);
    }
    this.#mv = mv;
    this.#gross = gross;
  }

  /**
   * Mark every asset to `prices` (one per asset, in index order) and return the new equity.
   * One pass, no allocation; NaN prices propagate into equity.
   */
  markToMarket(prices: Float64Array | readonly number[]): number {
    const n = this.#symbols.length;
    if (prices.length !== n)
      throw new PortfolioError(
        `markToMarket needs ${n} prices (one per asset), got ${prices.length}`,
      );
    const qty = this.#qty;
    const px = this.#px;
    let mv = 0;
    let gross = 0;
    for (let i = 0; i < n; i++) {
      const p = prices[i]!;
      px[i] = p;
      const v = qty[i]! * p;
      mv += v;
      gross += Math.abs(v);
    }
    this.#mv = mv;
    this.#gross = gross;
    return this.#cash + mv;
  }

  /** One-tick incremental update: mark a single asset at `price` in O(1) and return the new equity. */
  updatePrice(asset: number | string, price: number): number {
    const i =
      typeof asset === 'number' &&
      asset >= 0 &&
      asset < this.#symbols.length &&
      Number.isInteger(asset)
        ? asset
        : this.#resolve(asset);
    const q = this.#qty[i]!;
    const old = this.#px[i]!;
    this.#px[i] = price;
    this.#mv += q * (price - old);
    this.#gross += Math.abs(q * price) - Math.abs(q * old);
    // A NaN/infinite old mark left NaN sums that deltas cannot repair (see applyFill).
    if (!Number.isFinite(this.#mv + this.#gross)) this.#resum();
    return this.#cash + this.#mv;
  }

  /** Cash balance. */
  get cash(): number {
    return this.#cash;
  }
  /** Cash plus market value at the latest marks. */
  get equity(): number {
    return this.#cash + this.#mv;
  }
  /** Σ qty · mark. */
  get marketValue(): number {
    return this.#mv;
  }
  /** Σ |qty · mark|. */
  get grossExposure(): number {
    return this.#gross;
  }
  /** Σ qty · mark (long minus short value). */
  get netExposure(): number {
    return this.#mv;
  }
  /** Total fees paid. */
  get fees(): number {
    return this.#fees;
  }
  /** Total realised P&L (before fees), or one asset's. */
  realisedPnl(asset?: number | string): number {
    if (asset !== undefined) return this.#real[this.#resolve(asset)]!;
    let s = 0;
    for (let i = 0; i < this.#real.length; i++) s += this.#real[i]!;
    return s;
  }
  /** Total unrealised P&L at the latest marks, or one asset's: qty · (mark − avgCost). */
  unrealisedPnl(asset?: number | string): number {
    if (asset !== undefined) {
      const i = this.#resolve(asset);
      return this.#qty[i]! * (this.#px[i]! - this.#avg[i]!);
    }
    return this.#mv - this.#cost;
  }
  /** Position of one asset in units (signed). */
  position(asset: number | string): number {
    return this.#qty[this.#resolve(asset)]!;
  }
  /** Average entry cost of one asset's open position (0 when flat). */
  avgCost(asset: number | string): number {
    return this.#avg[this.#resolve(asset)]!;
  }
  /** Latest mark of one asset. */
  price(asset: number | string): number {
    return this.#px[this.#resolve(asset)]!;
  }
  /** Starting cash. */
  get initialCash(): number {
    return this.#initialCash;
  }

  /**
   * Portfolio weights `qty · mark / equity` per asset, written into `out` (allocated when omitted).
   * All zero when equity is 0.
   */
  weights(out?: Float64Array): Float64Array {
    const n = this.#symbols.length;
    const w = out ?? new Float64Array(n);
    if (w.length < n) throw new PortfolioError(`weights buffer needs ${n} slots, got ${w.length}`);
    const e = this.equity;
    for (let i = 0; i < n; i++) w[i] = e !== 0 ? (this.#qty[i]! * this.#px[i]!) / e : 0;
    return w;
  }

  /**
   * Orders that move the portfolio to `targetWeights` (one per asset, fractions of current equity,
   * negative for shorts) at the latest marks. Does not apply them: execute, then `applyFill` each.
   * Orders smaller than `minNotional` (cash, default 0) are skipped; assets with a zero mark are skipped.
   * Throws {@link PortfolioError} when equity is not finite (an asset marked NaN).
   */
  rebalanceTo(targetWeights: Float64Array | readonly number[], minNotional = 0): Order[] {
    const n = this.#symbols.length;
    if (targetWeights.length !== n) {
      throw new PortfolioError(
        `rebalanceTo needs ${n} target weights (one per asset), got ${targetWeights.length}`,
      );
    }
    if (!Number.isFinite(minNotional) || minNotional < 0)
      throw new InvalidOptionError('minNotional', minNotional, 'expected a finite number ≥ 0');
    const e = this.equity;
    // A NaN mark makes equity NaN, and every order NaN: the size test below then drops them all and
    // the portfolio would look already on target. Say so instead.
    if (!Number.isFinite(e)) {
      throw new PortfolioError(
        `rebalanceTo needs a finite equity to size orders, got ${describe(e)}: mark every asset at a finite price first`,
      );
    }
    const orders: Order[] = [];
    for (let i = 0; i < n; i++) {
      const w = targetWeights[i]!;
      if (!Number.isFinite(w))
        throw new PortfolioError(
          `Invalid target weight ${describe(w)} for asset ${this.#symbols[i]}: expected a finite number`,
        );
      const p = this.#px[i]!;
      if (!(p > 0)) continue;
      const delta = (w * e) / p - this.#qty[i]!;
      if (delta !== 0 && Math.abs(delta * p) >= minNotional) {
        orders.push({ asset: i, symbol: this.#symbols[i]!, qty: delta, price: p });
      }
    }
    return orders;
  }

  /** A plain-data copy of the state (structured-cloneable). */
  snapshot(): PortfolioSnapshot {
    const n = this.#symbols.length;
    const un = new Float64Array(n);
    for (let i = 0; i < n; i++) un[i] = this.#qty[i]! * (this.#px[i]! - this.#avg[i]!);
    return {
      symbols: [...this.#symbols],
      cash: this.#cash,
      equity: this.equity,
      quantities: this.#qty.slice(),
      prices: this.#px.slice(),
      avgCosts: this.#avg.slice(),
      realisedPnl: this.#real.slice(),
      unrealisedPnl: un,
      fees: this.#fees,
    };
  }
}
