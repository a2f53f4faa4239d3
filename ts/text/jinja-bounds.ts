// Bounds on rendering a chat template. A template is code from the model folder: one that loops for ever, or calls
// range(10**8), would hang loadTokenizer (which renders the template once to find the end-of-turn token) with
// gigabytes in use and no way to abort. @huggingface/jinja renders synchronously, so the bound is a step count:
// every expression or statement it evaluates is one step, and a render that takes more is stopped with an error.
// range() is replaced by one that refuses to build more than RANGE_LIMIT numbers.
// Installed on first use; the bounds apply to every render of @huggingface/jinja in this process.
import { Environment, Interpreter } from "@huggingface/jinja";

/** Steps one render may take: real chat templates take a few thousand for a long conversation. */
export const RENDER_STEP_LIMIT = 1_000_000;
/** The most numbers range() may produce in a template. */
export const RANGE_LIMIT = 100_000;

/** A render stopped by a bound; the message says which. */
export class TemplateBoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateBoundError";
  }
}

let stepsLeft = Number.POSITIVE_INFINITY;
let installed = false;

function install(): void {
  if (installed) return;
  // The check costs one decrement per evaluated node; outside renderWithinBounds the budget is unlimited.
  // The library declares range() among its globals before a render's variables, and refuses to declare a name
  // twice; so the global itself is swapped for the bounded one where the environment declares it.
  const environment = Environment.prototype as unknown as { set(name: string, value: unknown): unknown };
  const set = environment.set;
  environment.set = function (name, value) {
    return set.call(this, name, name === "range" && typeof value === "function" ? boundedRange : value);
  };
  const proto = Interpreter.prototype as unknown as { evaluate(statement: unknown, env: unknown): unknown };
  const evaluate = proto.evaluate;
  proto.evaluate = function (statement, env) {
    if (--stepsLeft < 0) {
      stepsLeft = Number.POSITIVE_INFINITY; // the error is thrown once; finally{} below restores the caller's budget
      throw new TemplateBoundError(`the chat template did not finish within ${RENDER_STEP_LIMIT.toLocaleString("en-US")} steps (does it loop?)`);
    }
    return evaluate.call(this, statement, env);
  };
  installed = true;
}

/** Python's range(), refusing to produce more than RANGE_LIMIT numbers. */
export function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (![start, stop, step].every(Number.isInteger)) throw new TemplateBoundError("range() takes integers");
  if (step === 0) throw new TemplateBoundError("range() step must not be zero");
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > RANGE_LIMIT) throw new TemplateBoundError(`range() of ${count} numbers in a chat template (at most ${RANGE_LIMIT} are allowed)`);
  return Array.from({ length: count }, (_, k) => start + k * step);
}

/** Runs `render` (a synchronous template render) within the step bound. */
export function renderWithinBounds<T>(render: () => T): T {
  install();
  const saved = stepsLeft;
  stepsLeft = RENDER_STEP_LIMIT;
  try {
    return render();
  } finally {
    stepsLeft = saved;
  }
}
