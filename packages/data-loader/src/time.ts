import { parseDecimal } from './number.js';

const MS_PER_DAY = 86_400_000;
const ZERO = 48;
const DASH = 45;
const COLON = 58;
const DOT = 46;
const PLUS = 43;
const SPACE = 32;
const UPPER_T = 84;
const LOWER_T = 116;
const UPPER_Z = 90;
const LOWER_Z = 122;

/** What an accepted time looks like, for error messages. */
export const TIME_FORMS =
  'epoch milliseconds as a decimal number, or an ISO-8601 date or date-time such as ' +
  '2024-01-02, 2024-01-02T03:04:05.678Z or 2024-01-02 03:04+02:00';

/**
 * Parse a time field into epoch milliseconds; NaN when it is not one of the accepted forms:
 * - a decimal number (`1700000000000`, `-5`, `1.5e12`): epoch milliseconds, taken as is;
 * - `YYYY-MM-DD`: midnight UTC of that day;
 * - `YYYY-MM-DDThh:mm`, `...:ss` or `...:ss.f` (1 to 9 fraction digits, kept below the
 *   millisecond), with `T` or a space between date and time (RFC 3339's `t` and `z` too), then
 *   `Z`, an offset `±hh:mm`, or nothing, which means UTC.
 *
 * Fields are range-checked (month 1–12, the day within its month, hour 0–23, minute and second
 * 0–59: no leap second, no `24:00`). Anything else, including what `Date.parse` would guess at
 * (`"1/2/2024"`, `"Jan 2 2024"`, `"foo 12"`), is NaN. The text must be trimmed already.
 */
export function parseTime(text: string): number {
  const first = text.charCodeAt(0);
  // A date starts with four digits and a dash; test for a number only when it cannot be one.
  if (text.length >= 10 && text.charCodeAt(4) === DASH && isDigit(first)) return parseIso(text);
  return parseDecimal(text);
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= ZERO + 9;
}

/** The value of `count` decimal digits at `at`, or -1 if any of them is not a digit. */
function digits(s: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) return -1;
    value = value * 10 + (c - ZERO);
  }
  return value;
}

function parseIso(s: string): number {
  const n = s.length;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || s.charCodeAt(7) !== DASH) return Number.NaN;
  if (day > daysInMonth(year, month)) return Number.NaN;
  const date = daysFromCivil(year, month, day) * MS_PER_DAY;
  if (n === 10) return date;
  const sep = s.charCodeAt(10);
  if (sep !== UPPER_T && sep !== LOWER_T && sep !== SPACE) return Number.NaN;
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || s.charCodeAt(13) !== COLON)
    return Number.NaN;
  let ms = date + (hour * 60 + minute) * 60_000;
  let p = 16;
  if (p < n && s.charCodeAt(p) === COLON) {
    const second = digits(s, p + 1, 2);
    if (second < 0 || second > 59) return Number.NaN;
    ms += second * 1000;
    p += 3;
    if (p < n && s.charCodeAt(p) === DOT) {
      const start = ++p;
      while (p < n && isDigit(s.charCodeAt(p))) p++;
      const count = p - start;
      if (count === 0 || count > 9) return Number.NaN;
      const fraction = digits(s, start, count);
      // Exact for up to 3 digits; one correctly rounded division below the millisecond.
      ms += count <= 3 ? fraction * 10 ** (3 - count) : fraction / 10 ** (count - 3);
    }
  }
  if (p === n) return ms;
  const zone = s.charCodeAt(p);
  if (zone === UPPER_Z || zone === LOWER_Z) return p + 1 === n ? ms : Number.NaN;
  if ((zone !== PLUS && zone !== DASH) || p + 6 !== n || s.charCodeAt(p + 3) !== COLON)
    return Number.NaN;
  const offsetHours = digits(s, p + 1, 2);
  const offsetMinutes = digits(s, p + 4, 2);
  if (offsetHours < 0 || offsetHours > 23 || offsetMinutes < 0 || offsetMinutes > 59)
    return Number.NaN;
  const offset = (offsetHours * 60 + offsetMinutes) * 60_000;
  // Local time = UTC + offset, so UTC = local time - offset.
  return zone === PLUS ? ms - offset : ms + offset;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (the standard era-based algorithm), with no
 * Date object: `Date.UTC` would read years 0–99 as 1900–1999.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
