import { InvalidInput } from "@kontor/service-kit/errors";

/** Runs a pure validator that must throw InvalidInput and returns the field it named. */
export function invalidField(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidInput) return err.field;
    throw err;
  }
  throw new Error("expected InvalidInput, but nothing was thrown");
}
