// The ByteFallback decoder as the Python `tokenizers` library (and so transformers) runs it. A run of byte tokens
// (<0xE2><0x82><0xAC>) becomes its UTF-8 text when the whole run is valid UTF-8; otherwise every byte of the run
// becomes one U+FFFD, each a piece of its own for the decoders after it. @huggingface/tokenizers decodes the run with a
// lenient TextDecoder instead, which gives one U+FFFD per broken sequence (and keeps the valid part), so a model's
// broken bytes would decode to another text than in Python. This module makes the library's decoder Python's, once.
import * as tokenizers from "@huggingface/tokenizers";

// Exported by the library at run time; its type declarations' `export *` does not resolve under NodeNext.
const { ByteFallbackDecoder } = tokenizers as unknown as { ByteFallbackDecoder: { prototype: { decode_chain(tokens: string[]): string[] } } };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Python tokenizers' ByteFallback::decode_chain. */
export function decodeByteFallback(tokens: string[]): string[] {
  const pieces: string[] = [];
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length === 0) return;
    try {
      pieces.push(strictUtf8.decode(Uint8Array.from(bytes)));
    } catch {
      for (let k = 0; k < bytes.length; k++) pieces.push("\ufffd");
    }
    bytes = [];
  };
  for (const token of tokens) {
    const byte = token.length === 6 && token.startsWith("<0x") && token.endsWith(">") ? Number.parseInt(token.slice(3, 5), 16) : NaN;
    if (!Number.isNaN(byte)) bytes.push(byte);
    else {
      flush();
      pieces.push(token);
    }
  }
  flush();
  return pieces;
}

let installed = false;

/** Makes @huggingface/tokenizers' ByteFallback decoder decode as Python's does (idempotent). */
export function usePythonByteFallback(): void {
  if (installed) return;
  if (typeof ByteFallbackDecoder?.prototype?.decode_chain !== "function") {
    throw new Error("@huggingface/tokenizers no longer exports ByteFallbackDecoder with decode_chain; byte-token decoding cannot be matched to Python's");
  }
  ByteFallbackDecoder.prototype.decode_chain = decodeByteFallback;
  installed = true;
}
