/**
 * The answer inside a response, in a normalized form two responses can be compared by:
 *
 * 1. an explicit final answer, the last one in the text outside code blocks: `Answer: X`,
 *    `Final answer: X`, `... the answer is X.`, `The correct option is X.`, `\boxed{X}`, `#### X`;
 * 2. otherwise a leading yes or no (`Yes.`, `No, because ...`; not `No one ...`) or a bare
 *    multiple-choice letter (`B`, `(B)`, `B) Paris`);
 * 3. otherwise fenced code blocks, compared by normalized text (comments and whitespace
 *    stripped; a single block that parses as JSON is compared as JSON);
 * 4. otherwise JSON in the text (the whole text, or its outermost `{...}` / `[...]`), by value;
 * 5. otherwise the last number in the text;
 * 6. otherwise the whole text, lower-cased, punctuation and extra whitespace removed.
 *
 * Numbers compare by value (`1,234.0` = `1234`), JSON by value (key order ignored), choices by
 * letter (`(B)`, `B) Paris`, `option b` are `choice:b`), yes/no by polarity (`Yes`, `true` are
 * `bool:yes`). A leading bracketed tag such as `[emulator:model]` is ignored.
 */
export type AnswerKind = 'final' | 'yes_no' | 'choice' | 'code' | 'json' | 'number' | 'text';

export interface ExtractedAnswer {
  /** Where the answer came from. */
  kind: AnswerKind;
  /**
   * The comparison key: `num:<value>`, `bool:yes|no`, `choice:<letter>`, `json:<canonical JSON>`,
   * `code:<normalized>`, `text:<normalized>`.
   */
  key: string;
  /** A short form for people. */
  display: string;
}

const FENCE = /```([^\n`]*)\n([\s\S]*?)```/g;
const LEADING_TAGS = /^(?:\s*\[[^\]\n]{0,200}\])+\s*/;
/** A number in running text: 1,234.5 or -12 or 3.25 (not the 4 of "gpt-4o"). */
const NUMBER = /(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])/g;

/** The content with a leading bracketed tag such as `[emulator:gpt-4o-mini]` removed. */
export function stripLeadingTags(content: string): string {
  return content.replace(LEADING_TAGS, '');
}

/** The normalized answer of a response, or null when there is nothing to compare (empty text). */
export function extractAnswer(content: string): ExtractedAnswer | null {
  const text = stripLeadingTags(content).trim();
  if (text.length === 0) return null;

  const blocks = [...text.matchAll(FENCE)].map((m) => ({ lang: (m[1] ?? '').trim().toLowerCase().split(/\s+/)[0] ?? '', body: m[2] ?? '' }));
  const prose = text.replace(FENCE, ' ');

  const final = finalAnswer(prose);
  if (final !== null) return final;

  const lead = leadingAnswer(prose);
  if (lead !== null) return lead;

  if (blocks.length > 0) {
    if (blocks.length === 1 && ['', 'json', 'jsonc', 'json5'].includes(blocks[0]!.lang)) {
      const json = jsonKey(blocks[0]!.body);
      if (json !== null) return json;
    }
    const code = blocks
      .map((b) => normalizeCode(b.body, b.lang))
      .filter((c) => c.length > 0)
      .join(' ');
    if (code.length > 0) return { kind: 'code', key: `code:${code}`, display: shorten(code) };
  }

  const json = inlineJson(prose);
  if (json !== null) return json;

  const numbers = [...prose.matchAll(NUMBER)];
  const last = numbers[numbers.length - 1];
  if (last) return numberAnswer(last[0], 'number');

  const normalized = normalizeText(prose);
  return normalized.length > 0 ? { kind: 'text', key: `text:${normalized}`, display: shorten(normalized) } : null;
}

const FINAL_PATTERNS: RegExp[] = [
  /\\boxed\{([^{}]*)\}/g,
  /^[ \t]*#{4}[ \t]*(.+)$/gm,
  /^[ \t>*_-]*(?:final[ \t]+)?answer[ \t]*[*_]*[ \t]*[:：][ \t]*(.+)$/gim,
  /\b(?:final[ \t]+|correct[ \t]+)?answer[ \t]+is[ \t]*[:=]?[ \t]*(.+?)(?:[.!?;](?=\s|$)|\n|$)/gim,
  /\b(?:correct|right|best)[ \t]+(?:option|choice)[ \t]+is[ \t]*[:=]?[ \t]*(.+?)(?:[.!?;](?=\s|$)|\n|$)/gim,
];

/**
 * A multiple-choice letter (A-H) as an answer's value: `B`, `option B`, `B) Paris`, `B. Paris`,
 * `B: Paris` (the value's surrounding brackets and final punctuation already removed).
 */
const CHOICE_VALUE = /^(?:(?:option|choice)[ \t]+)?\(?([a-h])\)?(?:[.):][ \t]+\S.*)?$/is;
/** A yes/no value: the word alone or followed by punctuation and more (`Yes, it is`). */
const YES_NO_VALUE = /^(yes|no|true|false)(?:[ \t]*[,.;:!—–-].*)?$/is;
/** A response that opens with yes or no and punctuation (`Yes.`, `No, ...`, `Yes — ...`), or is only the word. */
const LEADING_YES_NO = /^(yes|no)(?:[ \t]*[,.;:!—–]|[ \t]+-[ \t]|$)/i;
/** A response that is a bare choice letter (`B`, `(B)`, `B.`) or opens with one in brackets (`(B) Paris`, `B) Paris`). */
const LEADING_CHOICE = /^(?:\(([A-H])\)|([A-H])\))(?:[ \t]+\S[^\n]*)?$|^\(?([A-H])\)?\.?$/;

function yesNo(word: string, kind: AnswerKind): ExtractedAnswer {
  const yes = /^(?:yes|true)$/i.test(word);
  return { kind, key: `bool:${yes ? 'yes' : 'no'}`, display: yes ? 'yes' : 'no' };
}

function choice(letter: string, kind: AnswerKind): ExtractedAnswer {
  const l = letter.toLowerCase();
  return { kind, key: `choice:${l}`, display: l.toUpperCase() };
}

/** A leading yes/no or a bare choice letter (rule 2), or null. */
function leadingAnswer(prose: string): ExtractedAnswer | null {
  const text = prose.trim();
  const yn = LEADING_YES_NO.exec(text);
  if (yn) return yesNo(yn[1]!, 'yes_no');
  const c = LEADING_CHOICE.exec(text);
  const letter = c?.[1] ?? c?.[2] ?? c?.[3];
  return letter !== undefined ? choice(letter, 'choice') : null;
}

/** The last explicit final answer in the text, normalized; null when there is none. */
function finalAnswer(prose: string): ExtractedAnswer | null {
  let best: { index: number; value: string } | null = null;
  for (const pattern of FINAL_PATTERNS) {
    for (const m of prose.matchAll(pattern)) {
      const value = (m[1] ?? '').trim();
      // "The answer is the following:" introduces the answer rather than giving it.
      if (value.length === 0 || value.endsWith(':')) continue;
      if (best === null || m.index >= best.index) best = { index: m.index, value };
    }
  }
  if (best === null) return null;
  const value = best.value.replace(/[*_`]+/g, '').replace(/^["'“‘(]+|["'”’).,;!?]+$/g, '').trim();
  const c = CHOICE_VALUE.exec(value);
  if (c) return choice(c[1]!, 'final');
  const yn = YES_NO_VALUE.exec(value);
  if (yn) return yesNo(yn[1]!, 'final');
  const numbers = [...value.matchAll(NUMBER)];
  // A lone number with at most two words around it ("391", "$1,234", "x = 5", "12 apples").
  if (numbers.length === 1) {
    const rest = value.replace(NUMBER, ' ').replace(/[$€£%=]/g, ' ').trim();
    if (rest.split(/\s+/).filter((w) => w.length > 0).length <= 2) return numberAnswer(numbers[0]![0], 'final');
  }
  const json = jsonKey(value);
  if (json !== null) return { ...json, kind: 'final' };
  const normalized = normalizeText(value);
  if (normalized.length === 0) return null;
  return { kind: 'final', key: `text:${normalized}`, display: shorten(normalized) };
}

function numberAnswer(raw: string, kind: AnswerKind): ExtractedAnswer {
  const value = canonicalNumber(raw);
  return { kind, key: `num:${value}`, display: value };
}

/** `1,234.50` -> `1234.5`; `-0` -> `0`; float noise beyond 12 significant digits dropped. */
export function canonicalNumber(raw: string): string {
  const n = Number(raw.replace(/,/g, ''));
  if (!Number.isFinite(n)) return raw;
  if (Object.is(n, -0) || n === 0) return '0';
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(12)));
}

/** Canonical JSON of a value: object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A JSON object or array (not a bare scalar) by value, or null when the text is not one. */
function jsonKey(text: string): ExtractedAnswer | null {
  const trimmed = text.trim();
  if (!/^[[{]/.test(trimmed)) return null;
  try {
    const canonical = canonicalJson(JSON.parse(trimmed) as unknown);
    return { kind: 'json', key: `json:${canonical}`, display: shorten(canonical) };
  } catch {
    return null;
  }
}

/** JSON in running text: the whole text, else its outermost `{...}` or `[...]` span. */
function inlineJson(prose: string): ExtractedAnswer | null {
  const whole = jsonKey(prose);
  if (whole !== null) return whole;
  for (const [open, close] of [
    ['{', '}'],
    ['[', ']'],
  ] as const) {
    const start = prose.indexOf(open);
    const end = prose.lastIndexOf(close);
    if (start >= 0 && end > start) {
      const json = jsonKey(prose.slice(start, end + 1));
      if (json !== null) return json;
    }
  }
  return null;
}

const HASH_COMMENTS = new Set(['python', 'py', 'sh', 'bash', 'shell', 'zsh', 'ruby', 'rb', 'r', 'perl', 'pl', 'yaml', 'yml', 'toml', 'ps1', 'powershell', 'makefile', 'dockerfile', 'julia', 'elixir', 'ex', 'nim', 'coffee']);
const DASH_COMMENTS = new Set(['sql', 'lua', 'haskell', 'hs', 'ada', 'plsql', 'postgresql', 'mysql', 'sqlite']);
/** Punctuation around which whitespace carries no meaning. */
const PUNCTUATION = /\s*([{}()[\];,:=+\-*/<>!&|^%?~.])\s*/g;

/**
 * Code compared by content: comments removed (by the block's language: `#` for Python, shell,
 * Ruby, YAML...; `--` for SQL, Lua, Haskell; `//` and `/* *\/` otherwise), string literals
 * kept verbatim, whitespace collapsed and dropped around punctuation, lines joined. Indentation
 * is lost, so two Python snippets differing only in indentation compare equal.
 */
export function normalizeCode(code: string, lang = ''): string {
  const style = HASH_COMMENTS.has(lang) ? 'hash' : DASH_COMMENTS.has(lang) ? 'dash' : 'c';
  const singleQuoteStrings = lang !== 'rust' && lang !== 'rs';
  let out = '';
  let quote: string | null = null;
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (quote !== null) {
      out += c;
      if (c === '\\' && i + 1 < code.length) out += code[++i]!;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === '`' || (c === "'" && singleQuoteStrings)) {
      quote = c;
      out += c;
      continue;
    }
    const two = code.slice(i, i + 2);
    if ((style === 'hash' && c === '#') || (style === 'dash' && two === '--') || (style === 'c' && two === '//')) {
      while (i + 1 < code.length && code[i + 1] !== '\n') i++;
      continue;
    }
    if (style === 'c' && two === '/*') {
      const end = code.indexOf('*/', i + 2);
      i = end < 0 ? code.length : end + 1;
      out += ' ';
      continue;
    }
    out += c;
  }
  return out.replace(/\s+/g, ' ').replace(PUNCTUATION, '$1').trim();
}

/** Lower case, Unicode-normalized, punctuation dropped, whitespace collapsed. */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s.-]+/gu, ' ')
    .replace(/(?<!\d)[.-]|[.-](?!\d)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function shorten(text: string, max = 80): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
