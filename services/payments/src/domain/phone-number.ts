import { InvalidInput } from "@kontor/service-kit/errors";

/** E.164: a plus, a country code that does not start with 0, at most 15 digits in all. */
const E164 = /^\+[1-9][0-9]{6,14}$/;

export function validateE164(field: string, number: string): string {
  if (!E164.test(number)) throw new InvalidInput(field, "must be an E.164 number such as +4915112345678");
  return number;
}
