// The public API of greater. Everything a user imports comes from here.
export { engineInfo, setThreads, matmulChecksum, type EngineInfo } from "./engine/info.js";
export { loadModel, Model, type LogitsInput, type LogitsOptions, type LogitsResult } from "./engine/model.js";
export * from "./engine/types.js";
export * from "./tasks/index.js";
export * from "./runs/index.js";
export * from "./text/index.js";
export * from "./optimizer/index.js";
