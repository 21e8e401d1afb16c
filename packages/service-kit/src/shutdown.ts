import type { Logger } from "./log.js";
import { ConfigError } from "./config.js";

/**
 * SIGTERM/SIGINT → app.stop() (which drains in the fixed order), then exit 0.
 * A second signal exits at once.
 */
export function installShutdown(app: { stop(): Promise<void> }, log: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal, exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "shutting down");
    app.stop().then(
      () => {
        log.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/**
 * The standard main(): build and start, or print one clear line and exit
 * non-zero (a bad variable names itself; anything else is a startup failure).
 */
export async function runMain(name: string, boot: () => Promise<{ app: { stop(): Promise<void> }; log: Logger }>): Promise<void> {
  try {
    const { app, log } = await boot();
    installShutdown(app, log);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
    } else {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`${name}: failed to start: ${message}\n`);
    }
    process.exit(1);
  }
}
