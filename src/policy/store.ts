// Holds the policy in force and swaps it atomically on reload. A request reads current() once
// and keeps that snapshot, so a reload never changes a decision half-way through a call. A
// policy that fails validation is refused and the previous one stays in force.
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { loadPolicy, type Policy } from './engine.js';

export interface ReloadResult {
  ok: boolean;
  version: string;
  error?: string;
  /** Version in force before the reload. */
  previousVersion?: string;
  /** False when the files hashed to the version already in force. */
  changed?: boolean;
}

export interface PolicyStoreOptions {
  /** Debounce for file-change reloads: editors write files in several steps. */
  debounceMs?: number;
}

export class PolicyStore {
  private policy: Policy;
  private reloading: Promise<ReloadResult> | null = null;
  private again = false;

  private constructor(
    readonly dir: string,
    first: Policy,
    private readonly opts: Required<PolicyStoreOptions>,
  ) {
    this.policy = first;
  }

  /** Loads the policy once; throws PolicyLoadError when the first load fails (the gateway must not start without one). */
  static async open(dir: string, opts: PolicyStoreOptions = {}): Promise<PolicyStore> {
    return new PolicyStore(dir, await loadPolicy(dir), { debounceMs: opts.debounceMs ?? 250 });
  }

  current(): Policy {
    return this.policy;
  }

  /** Re-reads the files; concurrent calls share one load, and a call during a load triggers one more. */
  reload(): Promise<ReloadResult> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = this.loadOnce().finally(() => {
      this.reloading = null;
    });
    return this.reloading.then(async (r) => {
      if (!this.again) return r;
      this.again = false;
      return this.reload();
    });
  }

  private async loadOnce(): Promise<ReloadResult> {
    const previousVersion = this.policy.version;
    try {
      const next = await loadPolicy(this.dir);
      const changed = next.version !== previousVersion;
      if (changed) this.policy = next;
      return { ok: true, version: next.version, previousVersion, changed };
    } catch (err) {
      return { ok: false, version: previousVersion, previousVersion, changed: false, error: (err as Error).message };
    }
  }

  /**
   * Reloads when a file under the policy dir (or its catalog/) changes. The callback hears every
   * attempt that changed something or failed, so the caller can audit policy_loaded events.
   * Returns a function that stops watching.
   */
  watch(onChange: (r: ReloadResult) => void): () => void {
    const watchers: FSWatcher[] = [];
    let timer: NodeJS.Timeout | null = null;
    let stopped = false;
    const fire = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        if (stopped) return;
        void this.reload().then((r) => {
          if (!stopped && (!r.ok || r.changed)) onChange(r);
        });
      }, this.opts.debounceMs);
      timer.unref?.();
    };
    for (const d of [this.dir, join(this.dir, 'catalog')]) {
      try {
        // Any name, not only *.yaml: Kubernetes ConfigMap volumes update by swapping a `..data`
        // symlink. An unchanged hash makes the reload a silent no-op.
        const w = fsWatch(d, { persistent: false }, () => fire());
        w.on('error', () => undefined);
        watchers.push(w);
      } catch {
        // catalog/ may not exist; SIGHUP still reloads.
      }
    }
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    };
  }
}
