// Types for cairn-sdk: a Cairn step type in JavaScript or TypeScript.

/** Any JSON value: what config, input, output, checkpoints and decisions are. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON Schema (draft 2020-12), as a value. */
export type JsonSchema = { [key: string]: Json } | boolean;

/** Severity of a log line. */
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export declare const Level: Readonly<{ [L in Level]: L }>;

/** Why a step failed: throw `StepError.fatal(...)` or `StepError.retryable(...)`. */
export declare class StepError extends Error {
  constructor(message: string, retryable?: boolean);
  /** True when trying again later may succeed; the workflow's retry policy decides. */
  readonly retryable: boolean;
  /** A failure that trying again will not fix. */
  static fatal(message: string): StepError;
  /** A failure that may go away when tried again later (rate limit, timeout). */
  static retryable(message: string): StepError;
}

/** What a paused step waits for; made by `pause()`. */
export interface Pause<Checkpoint = Json> {
  readonly kind: string;
  readonly message: string;
  readonly options: string[];
  readonly inputSchema?: JsonSchema;
  readonly data: Json;
  readonly checkpoint: Checkpoint;
}

export interface PauseRequest<Checkpoint = Json> {
  /** What kind of decision this is, e.g. `approval`, `review`, `input`. */
  kind: string;
  /** A sentence for the person who decides. */
  message: string;
  /** The allowed decisions, e.g. `['approve', 'reject']`; leave out for free-form input. */
  options?: string[];
  /** JSON Schema a free-form decision must satisfy. */
  inputSchema?: JsonSchema;
  /** Shown with the question, e.g. the draft to review. */
  data?: Json;
  /** Comes back, as it was, to `resume` with the decision. */
  checkpoint?: Checkpoint;
}

/** Waits for a decision: return this from `run` or `resume`. */
export declare function pause<Checkpoint = Json>(request: PauseRequest<Checkpoint>): Pause<Checkpoint>;

/** Which call of which step this is, and the host functions available to it. */
export declare class Context {
  readonly runId: string;
  readonly step: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The same for every attempt of this step in this run: hand it to external systems. */
  readonly idempotencyKey: string;
  /** A context for calling a step type directly, in tests; logs go to the console. */
  static local(options?: { runId?: string; step?: string; attempt?: number }): Context;
  log(level: Level, message: string): void;
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Reports progress within this step (0 to 100) and what it is doing now. */
  progress(percent: number, action: string): void;
}

/** What `run` and `resume` return: the step's output, or a pause. */
export type Result<Output, Checkpoint> = Output | Pause<Checkpoint>;

/** A step type. `run` and `resume` are synchronous: the 0.2 contract has no async calls. */
export interface StepDefinition<Config = Json, Input = Json, Output = Json, Checkpoint = Json> {
  /** The step type's name as workflows refer to it: lowercase letters, digits, `-`. */
  name: string;
  /** The plugin's own semantic version; `0.1.0` when left out. */
  version?: string;
  /** One or two sentences for humans. */
  description?: string;
  configSchema?: JsonSchema;
  inputSchema?: JsonSchema;
  outputSchema?: JsonSchema;
  /** Who sees what the step does, for a step that publishes or sends something to an audience. */
  audience?: string;
  run(ctx: Context, config: Config, input: Input): Result<Output, Checkpoint>;
  resume?(ctx: Context, config: Config, input: Input, checkpoint: Checkpoint, decision: Json): Result<Output, Checkpoint>;
}

/** Checks a step type's definition and returns it: `export default defineStep({...})`. */
export declare function defineStep<Config = Json, Input = Json, Output = Json, Checkpoint = Json>(
  definition: StepDefinition<Config, Input, Output, Checkpoint>,
): Readonly<StepDefinition<Config, Input, Output, Checkpoint>>;

/** Turns a step definition into the `cairn:step/step` export; used by the entry `cairn-sdk build` generates. */
export declare function adapt(definition: StepDefinition<any, any, any, any>, host: {
  log(level: Level, message: string): void;
  progress(percent: number, action: string): void;
}): unknown;
