/**
 * `record[key]` only when it is the record's own entry. State keeps members, agents and drafts in
 * plain objects keyed by ids a client names: `__proto__` or `constructor` must find nothing, or
 * a write through what they return changes every object in the process.
 */
export function own<T>(record: Record<string, T> | undefined, key: string): T | undefined {
  return record && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Whether `key` can be written into a plain object as an entry (`__proto__` would replace its prototype). */
export function isRecordKey(key: string): boolean {
  return key !== "__proto__";
}
