// Chat templates are Python Jinja: transformers renders them with jinja2, where the `trim` filter and a string's
// strip(), lstrip() and rstrip() are Python's str.strip family. @huggingface/jinja implements them with JavaScript's
// String.prototype.trim, whose idea of white space differs (it strips U+FEFF; Python strips U+001C-U+001F and U+0085)
// and which ignores the `chars` argument. This module makes the library's versions Python's, once, for every template
// this process renders, so that a template that strips a message renders exactly as transformers renders it.
import { Environment, Interpreter } from "@huggingface/jinja";

/** The characters Python's str.isspace() is true for (what str.strip() removes when given no characters). */
const PYTHON_WHITESPACE = new Set([
  "\t", "\n", "\v", "\f", "\r", "\x1c", "\x1d", "\x1e", "\x1f", " ", "\x85", "\xa0", "\u1680",
  "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a",
  "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
]);

/** Python's str.strip / lstrip / rstrip: `chars` (a string of characters) or, when absent, Python's white space. */
export function pythonStrip(text: string, chars: string | undefined, ends: "both" | "start" | "end"): string {
  const strip = chars === undefined ? PYTHON_WHITESPACE : new Set(Array.from(chars));
  const characters = Array.from(text); // code points, as Python's str
  let start = 0;
  let end = characters.length;
  if (ends !== "end") while (start < end && strip.has(characters[start])) start++;
  if (ends !== "start") while (end > start && strip.has(characters[end - 1])) end--;
  return characters.slice(start, end).join("");
}

// The library's value classes are not exported; these are taken from values it makes.
type RuntimeValue = { value: unknown; type: string };
type ValueClass = new (value: unknown) => RuntimeValue;
interface StringValueLike extends RuntimeValue { value: string; builtins: Map<string, unknown> }

let installed = false;

/** Installs the Python string methods into @huggingface/jinja (idempotent). */
export function usePythonStringMethods(): void {
  if (installed) return;
  const interpreter = new Interpreter(new Environment()) as unknown as {
    evaluate(node: unknown, env: Environment): RuntimeValue;
  };
  const sample = interpreter.evaluate({ type: "StringLiteral", value: "" }, new Environment()) as StringValueLike;
  const StringValue = sample.constructor as ValueClass;
  const FunctionValue = (sample.builtins.get("upper") as RuntimeValue).constructor as ValueClass;
  const charsOf = (args: RuntimeValue[], method: string): string | undefined => {
    const arg = args[0];
    if (arg === undefined || arg.type === "NullValue" || arg.type === "UndefinedValue") return undefined;
    if (typeof arg.value !== "string") throw new Error(`${method}() argument must be a string or None, not ${arg.type}`);
    return arg.value;
  };

  const builtins = Object.getOwnPropertyDescriptor(StringValue.prototype, "builtins");
  if (builtins?.get === undefined) throw new Error("@huggingface/jinja: StringValue has no builtins getter to extend");
  const pythonMethods = new WeakSet<Map<string, unknown>>();
  Object.defineProperty(StringValue.prototype, "builtins", {
    configurable: true,
    get(this: StringValueLike) {
      const map = builtins.get!.call(this) as Map<string, unknown>;
      if (!pythonMethods.has(map)) {
        for (const [method, ends] of [["strip", "both"], ["lstrip", "start"], ["rstrip", "end"]] as const) {
          map.set(method, new FunctionValue((args: RuntimeValue[]) => new StringValue(pythonStrip(this.value, charsOf(args, method), ends))));
        }
        pythonMethods.add(map);
      }
      return map;
    },
  });

  const proto = Interpreter.prototype as unknown as { applyFilter(operand: RuntimeValue, filter: { type: string; value?: unknown }, env: unknown): RuntimeValue };
  const applyFilter = proto.applyFilter;
  proto.applyFilter = function (operand, filter, env) {
    if (filter.type === "Identifier" && filter.value === "trim" && operand instanceof StringValue) {
      return new StringValue(pythonStrip((operand as StringValueLike).value, undefined, "both"));
    }
    return applyFilter.call(this, operand, filter, env);
  };
  installed = true;
}
