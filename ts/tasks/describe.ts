// The JSON-able description of a task: what a run config records and what the user is shown.
import type { Task, TaskDescription } from "./types.js";

/** The task's name, extractor, answer format (and how it was chosen), split record and left-out rows. */
export function describeTask(task: Task): TaskDescription {
  return {
    name: task.name,
    extractor: task.extractor,
    format: task.format,
    formatOrigin: task.formatOrigin,
    formatNote: task.formatNote,
    split: task.split,
    issues: task.issues,
  };
}
