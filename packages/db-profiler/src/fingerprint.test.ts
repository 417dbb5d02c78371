import { describe, expect, it } from 'vitest';
import { fingerprint, normalizeSql } from './fingerprint.js';

describe('fingerprint', () => {
  it('gives one fingerprint for statements that differ only in numeric literals', () => {
    expect(fingerprint('SELECT * FROM bars WHERE id = 5')).toEqual(
      fingerprint('SELECT * FROM bars WHERE id = 7'),
    );
    expect(normalizeSql('SELECT * FROM bars WHERE id = 5')).toBe('SELECT * FROM bars WHERE id = ?');
  });

  it('normalises strings, floats, exponents, hex, blobs, negatives and parameters to ?', () => {
    const variants = [
      "select * from bars where symbol = 'AAPL' and close > 1.5 and volume < -3e4 and flags = 0x1F and raw = X'00ff' and t = ?",
      "SELECT * FROM bars WHERE symbol = 'it''s' AND close > .5 AND volume < +7 AND flags = 12 AND raw = x'' AND t = :t",
      'SELECT * FROM bars WHERE symbol = $s AND close > ?2 AND volume < @v AND flags = -0x2 AND raw = ? AND t = 9',
    ];
    const fps = variants.map(normalizeSql);
    expect(new Set(fps).size).toBe(1);
    expect(fps[0]).toBe(
      'SELECT * FROM bars WHERE symbol = ? AND close > ? AND volume < ? AND flags = ? AND raw = ? AND t = ?',
    );
  });

  it('collapses IN lists of any length', () => {
    const a = normalizeSql('SELECT * FROM bars WHERE id IN (1, 2, 3)');
    expect(a).toBe('SELECT * FROM bars WHERE id IN (...)');
    expect(normalizeSql('SELECT * FROM bars WHERE id IN (?)')).toBe(a);
    expect(normalizeSql("SELECT * FROM bars WHERE id in ('a','b','c','d','e')")).toBe(a);
    // a subquery is not a literal list
    expect(normalizeSql('SELECT * FROM bars WHERE id IN (SELECT bar_id FROM trades)')).toBe(
      'SELECT * FROM bars WHERE id IN (SELECT bar_id FROM trades)',
    );
  });

  it('collapses row-value IN lists of any length and numbered named parameters', () => {
    const a = normalizeSql('SELECT * FROM bars WHERE (symbol, time) IN ((?, ?), (?, ?))');
    expect(a).toBe('SELECT * FROM bars WHERE (symbol, time) IN (...)');
    expect(normalizeSql("SELECT * FROM bars WHERE (symbol, time) IN (('A', 1))")).toBe(a);
    expect(
      normalizeSql("SELECT * FROM bars WHERE (symbol, time) IN (('A', 1), ('B', -2), (:s, @t))"),
    ).toBe(a);
    expect(normalizeSql('SELECT * FROM bars WHERE id IN ((1), 2)')).toBe(
      'SELECT * FROM bars WHERE id IN (...)',
    );
    // expressions and subqueries are not literal lists
    expect(normalizeSql('SELECT * FROM bars WHERE id IN ((1 + 2), 3)')).toBe(
      'SELECT * FROM bars WHERE id IN ((? + ?), ?)',
    );
    expect(normalizeSql('SELECT * FROM bars WHERE id IN ((SELECT 1), 2)')).toBe(
      'SELECT * FROM bars WHERE id IN ((SELECT ?), ?)',
    );
    expect(normalizeSql('SELECT * FROM bars WHERE id IN ()')).toBe(
      'SELECT * FROM bars WHERE id IN ()',
    );
    // :1, @2 and $3 are parameters too (SQLite accepts digits after the prefix)
    expect(normalizeSql('SELECT * FROM bars WHERE id = :1 AND time > @2 AND close < $3')).toBe(
      'SELECT * FROM bars WHERE id = ? AND time > ? AND close < ?',
    );
  });

  it('folds repeated VALUES tuples so every batch size is one statement', () => {
    const one = normalizeSql('INSERT INTO bars (a, b) VALUES (?, ?)');
    const many = normalizeSql('INSERT INTO bars (a, b) VALUES (1, 2), (3, 4), (5, 6)');
    const two = normalizeSql('INSERT INTO bars (a, b) VALUES (?, ?), (?, ?)');
    expect(many).toBe('INSERT INTO bars(a, b) VALUES (?, ?), ...');
    expect(two).toBe(many);
    expect(one).toBe('INSERT INTO bars(a, b) VALUES (?, ?)');
  });

  it('ignores whitespace, comments, keyword case and a trailing semicolon', () => {
    const a = fingerprint('SELECT close FROM bars WHERE symbol = ? ORDER BY time DESC LIMIT 10');
    const b = fingerprint(`select   close
      from Bars -- the bars table
      where /* hot */ symbol=?   order by "time" desc limit 99;`);
    expect(b).toEqual(a);
    expect(a.id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('keeps statements with different shapes apart', () => {
    const base = fingerprint('SELECT * FROM bars WHERE id = 1').id;
    expect(fingerprint('SELECT * FROM bars WHERE time = 1').id).not.toBe(base);
    expect(fingerprint('SELECT * FROM bars WHERE id > 1').id).not.toBe(base);
    expect(fingerprint('SELECT * FROM trades WHERE id = 1').id).not.toBe(base);
    expect(fingerprint('SELECT * FROM bars WHERE id IS NULL').id).not.toBe(base);
    // a binary minus is an operator, not the sign of a literal
    expect(normalizeSql('SELECT a - 1 FROM t')).toBe('SELECT a - ? FROM t');
  });

  it('is stable: the same text always has the same id', () => {
    expect(fingerprint('SELECT 1').id).toBe(fingerprint('select 2').id);
    expect(fingerprint('SELECT 1').id).toMatch(/^[0-9a-f]{16}$/);
  });
});
