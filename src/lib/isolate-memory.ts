/**
 * Everything an isolate remembers between requests, declared through this one helper: each map or
 * set has a name, a bound, and a rule for when it is full (by default it is emptied: every entry
 * here only saves work, so losing one costs a D1 read, never correctness). A reader lists them all
 * with `isolateMemory()`; a test empties them with `forgetIsolateMemory()`.
 *
 * Nothing here may outlive a promise made elsewhere: caches of records are invalidated by the
 * changes that touch them, or carry their own expiry.
 */

interface Declared {
  readonly name: string;
  readonly max: number;
  readonly size: number;
  clear(): void;
}

const declared = new Map<string, Declared>();

function declare(memory: Declared) {
  if (declared.has(memory.name)) throw new Error(`isolate memory "${memory.name}" is declared twice`);
  declared.set(memory.name, memory);
}

/** A map of at most `max` entries; a new key when full first runs `onFull` (default: empty it). */
export class IsolateMap<K, V> extends Map<K, V> implements Declared {
  constructor(
    readonly name: string,
    readonly max: number,
    private readonly onFull: (map: IsolateMap<K, V>) => void = (map) => map.clear(),
  ) {
    super();
    declare(this);
  }

  override set(key: K, value: V): this {
    if (this.size >= this.max && !this.has(key)) this.onFull(this);
    return super.set(key, value);
  }
}

/** A set of at most `max` values; a new value when full empties it first. */
export class IsolateSet<T> extends Set<T> implements Declared {
  constructor(
    readonly name: string,
    readonly max: number,
  ) {
    super();
    declare(this);
  }

  override add(value: T): this {
    if (this.size >= this.max && !this.has(value)) this.clear();
    return super.add(value);
  }
}

/** What this isolate remembers now: each declared memory's name, size and bound. */
export function isolateMemory(): { name: string; size: number; max: number }[] {
  return [...declared.values()].map(({ name, size, max }) => ({ name, size, max }));
}

/** Empties every declared memory (tests: start from a cold isolate). */
export function forgetIsolateMemory() {
  for (const memory of declared.values()) memory.clear();
}
