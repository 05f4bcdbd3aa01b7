// Write Cairn step plugins in JavaScript (or TypeScript): see README.md.
//
// This module is plain JavaScript with no imports, so a step type can be
// tested under Node as it is. The host's functions reach it through the entry
// module that `cairn-sdk build` generates (see build.js), which imports
// `cairn:step/host` and hands it to `adapt`.

/** Severity of a log line, as the host's `level` enum spells it. */
export const Level = Object.freeze({
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  error: 'error',
});

/** Why a step failed: throw `StepError.fatal(...)` or `StepError.retryable(...)`. */
export class StepError extends Error {
  constructor(message, retryable = false) {
    super(message);
    this.name = 'StepError';
    this.retryable = retryable;
  }

  /** A failure that trying again will not fix. */
  static fatal(message) {
    return new StepError(message, false);
  }

  /** A failure that may go away when tried again later (rate limit, timeout). */
  static retryable(message) {
    return new StepError(message, true);
  }
}

const PAUSE = Symbol('cairn.pause');

/**
 * Waits for a decision: return this from `run` or `resume`. `checkpoint`
 * comes back, as it was, to `resume` with the decision.
 */
export function pause({ kind, message, options = [], inputSchema, data = null, checkpoint = null }) {
  if (typeof kind !== 'string' || typeof message !== 'string') {
    throw new TypeError('pause() needs a kind and a message');
  }
  return { [PAUSE]: true, kind, message, options: [...options], inputSchema, data, checkpoint };
}

/** Which call of which step this is, and the host functions available to it. */
export class Context {
  constructor(call, host) {
    this.runId = call.runId;
    this.step = call.step;
    this.attempt = call.attempt;
    this.idempotencyKey = call.idempotencyKey;
    Object.defineProperty(this, 'host', { value: host });
  }

  /** A context for calling a step type directly, in tests; logs go to the console. */
  static local({ runId = 'local', step = 'step', attempt = 1 } = {}) {
    return new Context({ runId, step, attempt, idempotencyKey: `${runId}/${step}` }, consoleHost);
  }

  log(level, message) {
    this.host.log(level, String(message));
  }
  trace(message) { this.log('trace', message); }
  debug(message) { this.log('debug', message); }
  info(message) { this.log('info', message); }
  warn(message) { this.log('warn', message); }
  error(message) { this.log('error', message); }

  /** Reports progress within this step (0 to 100) and what it is doing now. */
  progress(percent, action) {
    this.host.progress(Math.max(0, Math.min(100, Math.round(percent))), String(action));
  }
}

const consoleHost = {
  log: (level, message) => console.error(`[${level}] ${message}`),
  progress: (percent, action) => console.error(`[progress ${percent}%] ${action}`),
};

const NAME = /^[a-z0-9][a-z0-9-]*$/;

/** Checks a step type's definition and returns it; `export default defineStep({...})`. */
export function defineStep(definition) {
  const { name, version = '0.1.0', description = '', run } = definition ?? {};
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TypeError('defineStep: `name` must be lowercase letters, digits and -');
  }
  if (typeof run !== 'function') {
    throw new TypeError(`defineStep: ${name} has no run(ctx, config, input) function`);
  }
  return Object.freeze({ ...definition, name, version, description });
}

/** Turns a step definition into the `cairn:step/step` export; used by the generated entry. */
export function adapt(definition, host) {
  const schema = (value) => (value === undefined || value === null ? undefined : JSON.stringify(value));
  const decode = (call) => [new Context(call, host), JSON.parse(call.config), JSON.parse(call.input)];
  const outcome = (body) => {
    let result;
    try {
      result = body();
    } catch (error) {
      if (error instanceof StepError) {
        return { tag: 'fail', val: { message: error.message, retryable: error.retryable } };
      }
      // Anything else stops the plugin. The runtime prints only the message,
      // so the exception's type goes in front of it, as Node shows it.
      if (error instanceof Error && error.name && !String(error.message).startsWith(error.name)) {
        error.message = `${error.name}: ${error.message}`;
      }
      throw error;
    }
    if (result && typeof result.then === 'function') {
      return {
        tag: 'fail',
        val: {
          message: 'the step returned a Promise: run and resume must return their result (the 0.2 contract has no async calls)',
          retryable: false,
        },
      };
    }
    if (result && result[PAUSE]) {
      return {
        tag: 'pause',
        val: {
          action: {
            kind: result.kind,
            message: result.message,
            options: result.options,
            inputSchema: schema(result.inputSchema),
            data: JSON.stringify(result.data ?? null),
          },
          checkpoint: JSON.stringify(result.checkpoint ?? null),
        },
      };
    }
    const output = JSON.stringify(result ?? null);
    return { tag: 'complete', val: output };
  };
  return {
    describe() {
      return {
        name: definition.name,
        version: definition.version,
        description: definition.description,
        configSchema: schema(definition.configSchema),
        inputSchema: schema(definition.inputSchema),
        outputSchema: schema(definition.outputSchema),
        audience: definition.audience ?? undefined,
      };
    },
    run(call) {
      const [ctx, config, input] = decode(call);
      return outcome(() => definition.run(ctx, config, input));
    },
    resume(call, checkpoint, decision) {
      const [ctx, config, input] = decode(call);
      if (typeof definition.resume !== 'function') {
        return outcome(() => {
          throw StepError.fatal('this step type never pauses, so it cannot be resumed');
        });
      }
      const kept = JSON.parse(checkpoint);
      const chosen = JSON.parse(decision);
      return outcome(() => definition.resume(ctx, config, input, kept, chosen));
    },
  };
}
