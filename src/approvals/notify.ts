// Tells approvers a request is waiting: a Slack-compatible incoming-webhook POST ({ text,
// blocks }). Runs in the background, never on the data path; retried with exponential backoff
// and, when every attempt failed, recorded as a notification_failed audit event (the request
// itself stays valid: approvers can still find it on the page or with the CLI).
// The webhook URL is a secret (Slack puts the credential in the path): it is never logged.
import type { AuditEvent, AuditEventInput } from '../audit/event.js';
import type { Logger } from '../ops/logger.js';
import type { ApprovalsConfig } from './config.js';
import type { ApprovalRecord } from './types.js';
import { SYSTEM_ACTOR, recordFields } from './service.js';

interface WebhookMessage {
  text: string;
  blocks?: unknown[];
}

/** Slack mrkdwn control characters are escaped so a statement cannot forge links or mentions. */
function mrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function summary(rec: ApprovalRecord): string {
  const kinds = rec.statementKinds.length ? rec.statementKinds.join(', ') : rec.statementTypes.join(', ');
  return `${kinds.toUpperCase()} on ${rec.tables.join(', ') || '(no table)'}`;
}

function webhookMessage(rec: ApprovalRecord, reviewUrl: string): WebhookMessage {
  const text = `Approval needed: ${rec.requester.display} wants to run ${summary(rec)} (${rec.id}, ${rec.required} approval${rec.required > 1 ? 's' : ''} from ${rec.approverRoles.join(' or ')}, expires ${rec.expiresAt}). Review: ${reviewUrl}`;
  const fields = [
    `*Request:* \`${rec.id}\``,
    `*Requester:* ${mrkdwn(rec.requester.display)}`,
    `*Statement:* ${mrkdwn(summary(rec))}`,
    `*Needs:* ${rec.required} × ${mrkdwn(rec.approverRoles.join(' or '))}`,
    `*Expires:* ${rec.expiresAt}`,
  ];
  if (rec.justification) fields.push(`*Justification:* ${mrkdwn(rec.justification.slice(0, 500))}`);
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `:lock: *Approval needed* for a ${mrkdwn(rec.statementTypes.join('/'))} statement` } },
      { type: 'section', fields: fields.map((t) => ({ type: 'mrkdwn', text: t })) },
      // Literals stay out of chat: the audit form of the statement, shortened.
      ...(rec.sqlText ? [{ type: 'section', text: { type: 'mrkdwn', text: '```' + mrkdwn(rec.sqlText.slice(0, 1500)).replace(/```/g, '`\u200b``') + '```' } }] : []),
      { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Review' }, url: reviewUrl }] },
    ],
  };
}

export interface Notifier {
  notify(rec: ApprovalRecord): void;
  /** Resolves when every delivery in flight has finished (succeeded or been audited as failed). */
  idle(): Promise<void>;
  /** Aborts deliveries in flight (each is audited as not delivered) and waits for them. */
  close(): Promise<void>;
}

export interface NotifierDeps {
  config: ApprovalsConfig['webhook'];
  reviewUrl: (id: string) => string;
  audit: { append(input: AuditEventInput): Promise<AuditEvent> };
  log: Logger;
  fetch?: typeof fetch;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function createWebhookNotifier(deps: NotifierDeps): Notifier {
  const inFlight = new Set<Promise<void>>();
  const stop = new AbortController();
  const doFetch = deps.fetch ?? fetch;
  const sleep = deps.sleep ?? defaultSleep;
  const { config } = deps;

  async function deliver(rec: ApprovalRecord): Promise<void> {
    const url = config.url!;
    const body = JSON.stringify(webhookMessage(rec, deps.reviewUrl(rec.id)));
    const attempts = config.retries + 1;
    let lastError = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (stop.signal.aborted) {
        lastError = 'gateway shutting down before delivery';
        break;
      }
      try {
        const res = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          redirect: 'error',
          signal: AbortSignal.any([stop.signal, AbortSignal.timeout(config.timeoutMs)]),
        });
        // Drain so the connection can be reused; the body is not needed.
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          deps.log.info({ approval_id: rec.id, attempt }, 'approvers notified');
          return;
        }
        lastError = `webhook answered HTTP ${res.status}`;
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        // Only the error class/code: messages can embed the URL, which is a secret.
        lastError = `webhook request failed: ${e.name}${e.cause?.code ? ` (${e.cause.code})` : ''}`;
      }
      if (attempt < attempts) {
        const delay = Math.min(config.maxBackoffMs, config.initialBackoffMs * 2 ** (attempt - 1));
        // Full jitter keeps many gateways from retrying in lockstep.
        await sleep(Math.round(delay / 2 + (Math.random() * delay) / 2), stop.signal).catch(() => undefined);
      }
    }
    deps.log.warn({ approval_id: rec.id, attempts, error: lastError }, 'approver notification failed');
    try {
      await deps.audit.append({
        event_type: 'notification_failed',
        ...SYSTEM_ACTOR,
        ...recordFields(rec),
        outcome: 'failure',
        error_code: 'webhook_failed',
        error_message: `approver webhook not delivered after ${attempts} attempt${attempts > 1 ? 's' : ''}: ${lastError}`,
      });
    } catch (err) {
      deps.log.error({ approval_id: rec.id, err: (err as Error).message }, 'could not audit a failed approver notification');
    }
  }

  return {
    notify(rec) {
      if (!config.url) return;
      const p = deliver(rec).catch((err: Error) => deps.log.error({ err: err.message }, 'approver notification crashed'));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    },
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    async close() {
      stop.abort(new Error('closing'));
      await Promise.allSettled([...inFlight]);
    },
  };
}
