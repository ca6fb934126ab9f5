/**
 * A tenant's regular expressions (`pattern`, `patternProperties`) run in time linear in the text.
 * V8's engine backtracks: exponential time on `^(a+)+$`, quadratic on a pattern as plain as
 * `[a-z]+@` over a long string, and one request's regex holds every request of its isolate.
 *
 * A pattern is ECMAScript (`u` mode), as JSON Schema says. Its structure (sequence, alternation,
 * groups, quantifiers, `^ $ \b \B`) is compiled into an NFA that is simulated on all its states at
 * once (Thompson's construction; at most `size` states per character). Each atom that matches one
 * character (a literal, `.`, a class, `\d`, `\p{…}`, an escape) is tested by V8 itself on that
 * one character, so every atom means exactly what ECMAScript says. What needs backtracking by
 * nature — backreferences, lookahead, lookbehind — is refused.
 *
 * Why not a library: re2js (RE2 in JavaScript) adds 51.6 KiB gzipped to a Worker budgeted at 250,
 * and reads `.`, `\s` and `\u` otherwise than ECMAScript. This is ~4 KiB, and
 * `test/linear-pattern.test.ts` holds it to V8's answers on random patterns and texts.
 */

/** The longest pattern a schema may hold. */
const MAX_PATTERN_LENGTH = 1000;
/** States a compiled pattern may have (`a{1000}` has 1,001). */
const MAX_STATES = 5000;
/** Groups inside one another, at most. */
const MAX_NESTING = 100;

type Node =
  | { k: "atom"; source: string }
  | { k: "seq"; items: Node[] }
  | { k: "alt"; options: Node[] }
  | { k: "rep"; node: Node; min: number; max: number }
  | { k: "assert"; kind: "^" | "$" | "b" | "B" };

class Refused extends Error {}

/** Reads a pattern already known to be valid ECMAScript (`new RegExp(p, "u")` accepted it). */
class Parser {
  private i = 0;
  private depth = 0;

  constructor(private readonly p: string) {}

  parse(): Node {
    const node = this.alternation();
    if (this.i < this.p.length) throw new Refused(`unexpected ${this.p[this.i]}`);
    return node;
  }

  private alternation(): Node {
    const options = [this.sequence()];
    while (this.p[this.i] === "|") {
      this.i++;
      options.push(this.sequence());
    }
    return options.length === 1 ? (options[0] as Node) : { k: "alt", options };
  }

  private sequence(): Node {
    const items: Node[] = [];
    while (this.i < this.p.length && this.p[this.i] !== "|" && this.p[this.i] !== ")") {
      items.push(this.quantified(this.term()));
    }
    return items.length === 1 ? (items[0] as Node) : { k: "seq", items };
  }

  private term(): Node {
    const p = this.p;
    const c = p[this.i] as string;
    if (c === "^" || c === "$") {
      this.i++;
      return { k: "assert", kind: c };
    }
    if (c === "(") return this.group();
    if (c === "[") return this.atom(this.classEnd(this.i));
    if (c === "\\") {
      const e = p[this.i + 1] as string;
      if (e === "b" || e === "B") {
        this.i += 2;
        return { k: "assert", kind: e };
      }
      if (/[1-9]/.test(e) || e === "k") throw new Refused("a backreference needs backtracking");
      return this.atom(this.escapeEnd(this.i));
    }
    // One code point: a surrogate pair is one character in `u` mode.
    return this.atom(this.i + String.fromCodePoint(p.codePointAt(this.i) as number).length);
  }

  private atom(end: number): Node {
    const source = this.p.slice(this.i, end);
    this.i = end;
    return { k: "atom", source };
  }

  private group(): Node {
    const p = this.p;
    if (++this.depth > MAX_NESTING) throw new Refused(`groups nested more than ${MAX_NESTING} deep`);
    this.i++;
    if (p[this.i] === "?") {
      if (p.startsWith("?:", this.i)) this.i += 2;
      else if (p[this.i + 1] === "<" && p[this.i + 2] !== "=" && p[this.i + 2] !== "!") {
        this.i = p.indexOf(">", this.i) + 1;
      } else throw new Refused("lookahead, lookbehind and modifiers need backtracking or are not supported");
    }
    const inner = this.alternation();
    this.i++; // ")"
    this.depth--;
    return inner;
  }

  /** Where the escape at `at` ends: `\u{…}`, `\p{…}`, a surrogate pair of `\u`s, `\cX`, `\xHH`. */
  private escapeEnd(at: number): number {
    const p = this.p;
    const e = p[at + 1];
    if ((e === "u" || e === "p" || e === "P") && p[at + 2] === "{") return p.indexOf("}", at) + 1;
    if (e === "u") {
      const lead = Number.parseInt(p.slice(at + 2, at + 6), 16);
      const trail = Number.parseInt(p.slice(at + 8, at + 12), 16);
      const pair =
        lead >= 0xd800 && lead <= 0xdbff && p.startsWith("\\u", at + 6) && trail >= 0xdc00 && trail <= 0xdfff;
      return at + (pair ? 12 : 6);
    }
    if (e === "x") return at + 4;
    if (e === "c") return at + 3;
    return at + 1 + String.fromCodePoint(p.codePointAt(at + 1) as number).length;
  }

  /** Where the class opening at `at` ends (after its `]`). */
  private classEnd(at: number): number {
    const p = this.p;
    let j = at + 1;
    if (p[j] === "^") j++;
    while (p[j] !== "]") j = p[j] === "\\" ? this.escapeEnd(j) : j + 1;
    return j + 1;
  }

  private quantified(node: Node): Node {
    const p = this.p;
    const c = p[this.i];
    let min: number;
    let max: number;
    if (c === "*" || c === "+" || c === "?") {
      this.i++;
      [min, max] = c === "*" ? [0, Infinity] : c === "+" ? [1, Infinity] : [0, 1];
    } else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(this.i));
      if (!m) return node;
      this.i += m[0].length;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
    } else {
      return node;
    }
    if (p[this.i] === "?") this.i++; // lazy or greedy: the same for whether a match exists
    if (min > MAX_STATES || (max !== Infinity && max > MAX_STATES)) {
      throw new Refused(`a counted repetition over ${MAX_STATES}`);
    }
    return this.quantified({ k: "rep", node, min, max });
  }
}

const CHAR = 0;
const SPLIT = 1;
const ASSERT = 2;
const MATCH = 3;

/** The NFA: parallel arrays, one entry per state. */
interface Program {
  op: number[];
  /** CHAR: the atom's index; ASSERT: the kind. */
  arg: (number | string)[];
  next: number[];
  /** SPLIT's second way. */
  alt: number[];
  start: number;
}

function compile(root: Node, atoms: string[]): Program {
  const prog: Program = { op: [], arg: [], next: [], alt: [], start: 0 };
  const state = (op: number, arg: number | string, next: number, alt = -1) => {
    if (prog.op.length >= MAX_STATES) throw new Refused(`more than ${MAX_STATES} states (large counted repetitions)`);
    prog.op.push(op);
    prog.arg.push(arg);
    prog.next.push(next);
    prog.alt.push(alt);
    return prog.op.length - 1;
  };
  /** The first state of `node`, continuing to `next` (built back to front). */
  const emit = (node: Node, next: number): number => {
    switch (node.k) {
      case "atom": {
        let index = atoms.indexOf(node.source);
        if (index < 0) index = atoms.push(node.source) - 1;
        return state(CHAR, index, next);
      }
      case "assert":
        return state(ASSERT, node.kind, next);
      case "seq":
        return node.items.reduceRight((to, item) => emit(item, to), next);
      case "alt":
        return node.options.map((option) => emit(option, next)).reduceRight((to, first) => state(SPLIT, 0, first, to));
      case "rep": {
        let to = next;
        if (node.max === Infinity) {
          const loop = state(SPLIT, 0, -1, next);
          prog.next[loop] = emit(node.node, loop);
          to = loop;
        } else {
          for (let n = node.min; n < node.max; n++) to = state(SPLIT, 0, emit(node.node, to), next);
        }
        for (let n = 0; n < node.min; n++) to = emit(node.node, to);
        return to;
      }
    }
  };
  prog.start = emit(root, state(MATCH, 0, -1));
  return prog;
}

const isWord = (code: number) =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;

/** One atom, asked of V8 for one character at a time; answers kept (ASCII in a table). */
function atomTester(source: string) {
  const regex = new RegExp(`^(?:${source})$`, "u");
  const ascii = new Int8Array(128).fill(-1);
  const other = new Map<number, boolean>();
  return (code: number) => {
    if (code < 128) {
      if (ascii[code] === -1) ascii[code] = regex.test(String.fromCharCode(code)) ? 1 : 0;
      return ascii[code] === 1;
    }
    let known = other.get(code);
    if (known === undefined) {
      known = regex.test(String.fromCodePoint(code));
      if (other.size > 4096) other.clear();
      other.set(code, known);
    }
    return known;
  };
}

export interface LinearPattern {
  /** Whether the pattern matches somewhere in `text` (JSON Schema's `pattern` is not anchored). */
  test(text: string): boolean;
  /** How many states it has: a match costs at most this much work per character. */
  size: number;
}

/** Compiles a tenant's pattern, or says why it cannot be used. */
export function compilePattern(pattern: string): LinearPattern | { problem: string } {
  if (pattern.length > MAX_PATTERN_LENGTH) return { problem: `longer than ${MAX_PATTERN_LENGTH} characters` };
  try {
    new RegExp(pattern, "u");
  } catch {
    return { problem: "not a valid regular expression (ECMA-262, u flag)" };
  }
  const atoms: string[] = [];
  let prog: Program;
  try {
    prog = compile(new Parser(pattern).parse(), atoms);
  } catch (err) {
    if (err instanceof Refused) return { problem: `not supported by Keyhook's linear-time matcher: ${err.message}` };
    throw err;
  }
  const testers = atoms.map(atomTester);
  const { op, arg, next, alt } = prog;
  const size = op.length;
  /** States reached at this step (dense list + generation marks: no clearing between steps). */
  let current = new Int32Array(size);
  let following = new Int32Array(size);
  const mark = new Int32Array(size);
  const stack = new Int32Array(size * 2 + 2);
  let generation = 0;

  const test = (text: string) => {
    if (generation > 1e9) {
      mark.fill(0);
      generation = 0;
    }
    let count = 0;
    /**
     * Adds `from` and every state reachable from it without reading a character, at `pos`, to
     * `list`: true if that reaches the match.
     */
    const close = (from: number, pos: number, list: Int32Array, length: number): number => {
      let top = 0;
      stack[top++] = from;
      while (top > 0) {
        const s = stack[--top] as number;
        if (mark[s] === generation) continue;
        mark[s] = generation;
        switch (op[s]) {
          case MATCH:
            return -1;
          case CHAR:
            list[length++] = s;
            break;
          case SPLIT:
            stack[top++] = alt[s] as number;
            stack[top++] = next[s] as number;
            break;
          case ASSERT: {
            const kind = arg[s];
            const before = pos > 0 ? (text.codePointAt(pos - 1) as number) : -1;
            const after = pos < text.length ? (text.codePointAt(pos) as number) : -1;
            const boundary = isWord(before) !== isWord(after);
            const holds =
              kind === "^" ? pos === 0 : kind === "$" ? pos === text.length : kind === "b" ? boundary : !boundary;
            if (holds) stack[top++] = next[s] as number;
            break;
          }
        }
      }
      return length;
    };

    generation++;
    count = close(prog.start, 0, current, 0);
    if (count < 0) return true;
    for (let pos = 0; pos < text.length; ) {
      const code = text.codePointAt(pos) as number;
      const width = code > 0xffff ? 2 : 1;
      generation++;
      let length = 0;
      for (let k = 0; k < count; k++) {
        const s = current[k] as number;
        if ((testers[arg[s] as number] as (c: number) => boolean)(code)) {
          length = close(next[s] as number, pos + width, following, length);
          if (length < 0) return true;
        }
      }
      pos += width;
      // Unanchored: a match may start at every position.
      length = close(prog.start, pos, following, length);
      if (length < 0) return true;
      [current, following] = [following, current];
      count = length;
    }
    return false;
  };
  return { test, size };
}
