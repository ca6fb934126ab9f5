import { evaluation, type OutputUnit, type Schema, Validator } from "@cfworker/json-schema";
import { ApiError } from "../../lib/errors";
import { isTooDeepStored, tooDeep, valueNestsDeeper } from "../../lib/json-depth";
import { compilePattern, type LinearPattern } from "./linear-pattern";

/** The only dialect the catalog takes (a schema may say so in `$schema`, or say nothing). */
const DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema";

/** A schema's own size cap, as JSON: it is read on publish while the type validates. */
export const MAX_SCHEMA_BYTES = 32 * 1024;

export type EntitySchema = Record<string, unknown> | boolean;

/** Where in the entity, and what is wrong: the shape `validation_failed` details have. */
export interface SchemaIssue {
  path: string;
  message: string;
}

/** `#/customer/0/id` → `entity.customer.0.id` (a JSON pointer's tokens, unescaped). */
function pathOf(prefix: string, pointer: string) {
  const tokens = pointer
    .replace(/^#\/?/, "")
    .split("/")
    .filter((t) => t !== "")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  return [prefix, ...tokens].join(".");
}

/**
 * The errors worth naming: the deepest ones. A wrapper (`properties`, `allOf`, …) whose keyword
 * location leads to another error only says "something below failed"; `additionalProperties: false`
 * is reported at the property it refused.
 */
function leaves(errors: OutputUnit[], prefix: string): SchemaIssue[] {
  const refused = errors.some((e) => e.keyword === "false");
  return errors
    .filter((e) => !errors.some((o) => o !== e && o.keywordLocation.startsWith(`${e.keywordLocation}/`)))
    .filter((e) => !(refused && (e.keyword === "additionalProperties" || e.keyword === "unevaluatedProperties")))
    .slice(0, 10)
    .map((e) => ({
      path: pathOf(prefix, e.instanceLocation),
      message: e.keyword === "false" ? "is not allowed by the event type's schema" : e.error,
    }));
}

/** Distinct regular expressions (`pattern`, `patternProperties`) one schema may hold. */
const MAX_SCHEMA_PATTERNS = 100;

/**
 * What one check may cost, in steps of about a microsecond: a schema applied to a value is one
 * (the validator's own cost, 0.7 to 2.5 µs by shape); a regular expression its states times the
 * text's length over 40; `enum` its values over 32; `uniqueItems` the pairs it compares over 256.
 * At most 0.1 s of CPU (`npm run bench:schema`), then 400: the check runs inside the publishing
 * request, and a request's JavaScript holds its isolate. A 64 KiB entity walked once takes at
 * most ~32,000 steps.
 */
const MAX_CHECK_STEPS = 50_000;

/** Steps per unit of the work the validator reports inside one schema. */
const STEPS_PER = { enum: 1 / 32, uniqueItems: 1 / 256, message: 1 / 1024 } as const;

/** Schemas applied inside one another (a `$ref` chain, or nesting), at most. */
const MAX_APPLIED_DEPTH = 200;

/** Thrown by a hook when a check runs out of steps or depth; becomes a 400. */
class TooCostly extends Error {}

const schemaProblem = (path: string, message: string) =>
  new ApiError("validation_failed", `Invalid request: ${path}: ${message}`, [{ path, message }]);

/**
 * Every regular expression of a schema (`pattern` values, `patternProperties` keys), compiled for
 * the linear-time matcher, each problem named by its path (walked with a stack, not recursion).
 */
function compilePatterns(schema: EntitySchema) {
  const compiled = new Map<string, LinearPattern>();
  const stack: [unknown, string[]][] = [[schema, ["schema"]]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, path] = top;
    if (node === null || typeof node !== "object") continue;
    for (const [key, value] of Object.entries(node)) {
      const at = [...path, key];
      const found: [string, string[]][] = [];
      if (key === "pattern" && typeof value === "string") found.push([value, at]);
      if (key === "patternProperties" && value && typeof value === "object") {
        for (const p of Object.keys(value)) found.push([p, [...at, p]]);
      }
      for (const [pattern, where] of found) {
        if (compiled.has(pattern)) continue;
        if (compiled.size >= MAX_SCHEMA_PATTERNS) {
          throw schemaProblem(where.join("."), `more than ${MAX_SCHEMA_PATTERNS} distinct patterns in one schema`);
        }
        const result = compilePattern(pattern);
        if ("problem" in result) throw schemaProblem(where.join("."), `${result.problem}: ${pattern}`);
        compiled.set(pattern, result);
      }
      stack.push([value, at]);
    }
  }
  return compiled;
}

/** A compiled schema: validates an entity, answering what is wrong (empty: valid). */
export interface EntityValidator {
  check(entity: unknown, prefix?: string): SchemaIssue[];
}

/**
 * Runs one evaluation with the validator's hooks counting its steps and depth, its patterns on
 * the linear-time matcher, and `format` as an annotation (draft 2020-12's default; cfworker's own `url` check
 * backtracks exponentially). Evaluation is synchronous: no other evaluation can see the hooks.
 */
function metered<T>(patterns: Map<string, LinearPattern>, run: () => T): T {
  let steps = 0;
  let depth = 0;
  const charge = (units: number) => {
    steps += units;
    if (steps > MAX_CHECK_STEPS) throw new TooCostly(`more than ${MAX_CHECK_STEPS.toLocaleString("en")} steps`);
  };
  const defaults = { ...evaluation };
  evaluation.enter = () => {
    charge(1);
    if (++depth > MAX_APPLIED_DEPTH) throw new TooCostly(`schemas applied more than ${MAX_APPLIED_DEPTH} deep`);
  };
  evaluation.leave = () => {
    depth--;
  };
  evaluation.charge = (kind, amount) => charge(amount * STEPS_PER[kind]);
  evaluation.regex = (pattern) => {
    const compiled = patterns.get(pattern);
    // Every pattern of the schema was compiled up front; another (a `$ref` to elsewhere) cannot run.
    if (!compiled) throw new TooCostly(`a pattern outside the schema: ${pattern}`);
    return {
      test: (text: string) => {
        charge(((text.length + 1) * compiled.size) / 40);
        return compiled.test(text);
      },
    };
  };
  evaluation.format = () => true;
  try {
    return run();
  } finally {
    Object.assign(evaluation, defaults);
  }
}

/**
 * Compiles a catalog schema (JSON Schema draft 2020-12, evaluated without code generation, which
 * Workers forbid). Refused with 400 naming the path: a schema that names another dialect, nests
 * deeper than JSON may, holds a pattern the linear-time matcher cannot run, or cannot be
 * evaluated (a `$ref` to nowhere). A check that would cost more than {@link MAX_CHECK_STEPS} is
 * refused as well.
 */
export function compileSchema(schema: EntitySchema): EntityValidator {
  if (typeof schema === "object" && schema.$schema !== undefined && schema.$schema !== DRAFT_2020_12) {
    throw new ApiError("validation_failed", `Invalid request: schema: $schema must be ${DRAFT_2020_12}`, [
      { path: "schema.$schema", message: `must be ${DRAFT_2020_12} (draft 2020-12)` },
    ]);
  }
  if (isTooDeepStored(schema) || valueNestsDeeper(schema)) throw tooDeep("schema");
  const patterns = compilePatterns(schema);
  let validator: Validator;
  try {
    validator = new Validator(schema as Schema | boolean, "2020-12", false);
  } catch (err) {
    throw schemaProblem("schema", `cannot be evaluated: ${reasonOf(err)}`);
  }
  const check = (entity: unknown, prefix = "entity") => {
    if (valueNestsDeeper(entity)) throw tooDeep(prefix);
    try {
      const result = metered(patterns, () => validator.validate(entity));
      return result.valid ? [] : leaves(result.errors, prefix);
    } catch (err) {
      if (err instanceof TooCostly) {
        throw new ApiError(
          "validation_failed",
          `Checking ${prefix} against the schema takes ${err.message}, Keyhook's limit: simplify the schema`,
          [{ path: "schema", message: `checking ${prefix} takes ${err.message}` }],
        );
      }
      throw schemaProblem("schema", `cannot be evaluated: ${reasonOf(err)}`);
    }
  };
  // Evaluated once against an empty object, so a schema that cannot be evaluated is refused now.
  check({});
  return { check };
}

const reasonOf = (err: unknown) => (err instanceof Error ? err.message.split("\n")[0] : String(err));

/** 400 `validation_failed` naming each failing path of the entity. */
export function schemaViolation(type: string, issues: SchemaIssue[]): ApiError {
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  return new ApiError("validation_failed", `The entity does not match the ${type} schema: ${summary}`, issues);
}
