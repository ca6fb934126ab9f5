import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compilePattern, type LinearPattern } from "../src/features/events/linear-pattern";

/** A pattern the matcher runs (a test fails on a refusal here). */
function compiled(pattern: string): LinearPattern {
  const result = compilePattern(pattern);
  if ("problem" in result) throw new Error(`${pattern}: ${result.problem}`);
  return result;
}

/** Random ECMAScript patterns of everything the matcher takes, over a small alphabet. */
const pattern: fc.Arbitrary<string> = fc
  .letrec<{ alt: string; seq: string; term: string; atom: string }>((tie) => ({
    atom: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom("a", "b", "1", " ", "é", "😀", "-") },
      fc.constantFrom(
        ".",
        "[ab]",
        "[^a]",
        "[a-z\\d]",
        "\\d",
        "\\w",
        "\\W",
        "\\s",
        "\\S",
        "\\p{L}",
        "\\u0061",
        "\\u{1F600}",
        "\\x62",
        "\\-",
        "[]",
        "[^]",
      ),
      tie("alt").map((inner) => `(${inner})`),
      tie("alt").map((inner) => `(?:${inner})`),
      tie("alt").map((inner) => `(?<g>${inner})`.replace("<g>", `<g${inner.length}>`)),
    ),
    term: fc.oneof(
      { weight: 3, arbitrary: tie("atom") },
      fc
        .tuple(tie("atom"), fc.constantFrom("*", "+", "?", "{0,2}", "{1}", "{2,}", "{1,3}"), fc.boolean())
        .map(([a, q, lazy]) => `${a}${q}${lazy ? "?" : ""}`),
      fc.constantFrom("^", "$", "\\b", "\\B"),
    ),
    seq: fc.array(tie("term"), { maxLength: 4 }).map((terms) => terms.join("")),
    alt: fc.array(tie("seq"), { minLength: 1, maxLength: 3 }).map((options) => options.join("|")),
  }))
  .alt.filter((p) => {
    try {
      new RegExp(p, "u");
      return true;
    } catch {
      return false;
    }
  });

const text = fc.array(fc.constantFrom("a", "b", "1", " ", "\n", "é", "😀", "-", "_", "\u00a0"), { maxLength: 12 });

describe("the linear-time matcher", () => {
  it("answers what V8 answers, on random patterns and texts", () => {
    fc.assert(
      fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 8 }), (p, texts) => {
        const ours = compiled(p);
        for (const chars of texts) {
          const t = chars.join("");
          expect(ours.test(t), `/${p}/u on ${JSON.stringify(t)}`).toBe(new RegExp(p, "u").test(t));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("answers in one pass where V8 backtracks", () => {
    // Each of these takes V8 seconds to minutes on texts far shorter than these.
    expect(compiled("^(a+)+$").test(`${"a".repeat(60_000)}!`)).toBe(false);
    expect(compiled("(\\w+\\s?)*$").test(`${"a".repeat(60_000)}!`)).toBe(true);
    expect(compiled("^(a|a)*$").test(`${"a".repeat(60_000)}!`)).toBe(false);
    expect(compiled("[a-z]+@example\\.com").test("a".repeat(60_000))).toBe(false);
    expect(compiled("(x+x+)+y").test("x".repeat(60_000))).toBe(false);
    expect(compiled("(?:)*a").test("a")).toBe(true);
  });

  it("refuses what needs backtracking, and programs too large", () => {
    for (const [p, why] of [
      ["(a)\\1", "backreference"],
      ["(?<n>a)\\k<n>", "backreference"],
      ["(?=a)", "lookahead"],
      ["(?!a)", "lookahead"],
      ["(?<=a)", "lookbehind"],
      ["(?<!a)", "lookbehind"],
      ["a{5001}", "over 5000"],
      ["(){1000000000}", "over 5000"],
      ["(a{100}){100}", "states"],
      ["(", "not a valid regular expression"],
      ["\\a", "not a valid regular expression"],
    ]) {
      const result = compilePattern(p as string);
      expect("problem" in result && result.problem, p).toContain(why);
    }
  });
});
