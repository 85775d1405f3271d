// A policy that cannot be loaded names the file, the line and what to change, so an
// operator fixing a refused reload at 3am does not have to guess.
import { BqwardenError } from '../common/errors.js';
export interface PolicyProblem {
  file: string;
  line: number | null;
  /** Dotted path of the offending key, e.g. roles[2].groups. */
  path: string;
  message: string;
  hint: string | null;
}

export class PolicyLoadError extends BqwardenError {
  readonly problems: PolicyProblem[];
  constructor(problems: PolicyProblem[]) {
    super('policy_invalid', PolicyLoadError.format(problems));
    this.name = 'PolicyLoadError';
    this.problems = problems;
  }
  /** First problem's location, for callers that want one. */
  get file(): string {
    return this.problems[0]?.file ?? '';
  }
  get line(): number | null {
    return this.problems[0]?.line ?? null;
  }
  get hint(): string | null {
    return this.problems[0]?.hint ?? null;
  }

  static format(problems: PolicyProblem[]): string {
    const lines = problems.map((p) => {
      const where = p.line === null ? p.file : `${p.file}:${p.line}`;
      const at = p.path ? ` (${p.path})` : '';
      return `${where}${at}: ${p.message}${p.hint ? ` — hint: ${p.hint}` : ''}`;
    });
    return `policy refused (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${lines.join('\n  ')}`;
  }
}
