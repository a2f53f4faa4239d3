// `greater/engine`: the engine on its own: loading a model, every engine call and its types, engine information.
export { engineInfo, setThreads, matmulChecksum, type EngineInfo } from "./info.js";
export { engineSettings, setEngineSettings, settingsFromEnvironment, type EngineSettings } from "./settings.js";
export { loadModel, Model, type LogitsInput, type LogitsOptions, type LogitsResult } from "./model.js";
export * from "./types.js";
