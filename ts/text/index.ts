// The text layer: tokenizer and chat template (Hugging Face's JS libraries), example layout and spans, prompt
// round-trip check, candidate filter.
export type {
  CandidateFilterOptions,
  ExampleInput,
  ExampleLayout,
  ModelTokenizer,
  UserTurnTemplate,
} from "./types.js";
export { loadTokenizer, HfModelTokenizer, type LoadTokenizerOptions } from "./tokenizer.js";
export { ChatTemplate, type ChatMessage, type RenderChatOptions } from "./chat-template.js";
export { TokenizerFileError } from "./model-files.js";
export {
  buildExampleLayout,
  encodePrompt,
  userTurnContent,
  userTurnPieces,
  type BoundaryMerge,
  type BuiltExampleLayout,
  type LayoutOptions,
  type LayoutPart,
} from "./layout.js";
export { LayoutError } from "./token-boundary.js";
export { addsDummyPrefix, decodeContinuation, encodeContinuation } from "./continuation.js";
export { promptRoundTrips, filterCandidatesAtPosition, type RoundTripOptions } from "./prompt-round-trip.js";
export { disallowedTokenMask, isAllowedTokenText, type DisallowedMaskOptions } from "./candidate-filter.js";
