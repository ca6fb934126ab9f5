/** Stands in for `ajv-formats` (see ./ajv.ts): there is no Ajv to add formats to. */
export default function addFormats<T>(ajv: T): T {
  return ajv;
}
