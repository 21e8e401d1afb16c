import { InvalidInput } from "./errors.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** A required UUID field; anything else is InvalidInput naming the field. */
export function parseUuid(field: string, value: string): string {
  if (!value) throw new InvalidInput(field, "is required");
  if (!UUID.test(value)) throw new InvalidInput(field, "must be a UUID");
  return value.toLowerCase();
}
