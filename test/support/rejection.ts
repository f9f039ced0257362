import type { SpateError } from "spate";

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<SpateError> {
  try {
    await p;
  } catch (e) {
    return e as SpateError;
  }
  throw new Error("expected a rejection");
}
