// pino JSON logs in the shape Cloud Logging understands: `severity` instead of pino's numeric
// level, `message` as the text field, `time` in ISO-8601. Sensitive values never go to logs:
// request bodies and SQL are logged only through the audit log, which stores masked payloads.
import pino, { type Logger } from 'pino';

const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export function createLogger(level = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { service: 'bqwarden' },
      formatters: {
        level: (label) => ({ severity: SEVERITY[label] ?? 'DEFAULT', level: label }),
      },
      redact: {
        paths: ['req.headers.authorization', 'req.headers["x-goog-iap-jwt-assertion"]', 'headers.authorization', 'token'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

export type { Logger };
