import { pino, type Logger, type LoggerOptions, type DestinationStream } from "pino";

export type { Logger };

/**
 * One log shape for every service: JSON on stdout with `severity`, `message`
 * and `service`. Children add `rpc`, `request_id` and `principal`.
 */
export function createLogger(service: string, level: string = "info", destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    messageKey: "message",
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ severity: label.toUpperCase() }),
    },
    redact: { paths: ["authorization", "*.authorization", "token", "*.token", "password", "*.password"], censor: "[redacted]" },
  };
  return destination ? pino(options, destination) : pino(options);
}
