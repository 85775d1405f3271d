// `bqwarden` command line (bin/bqwarden.js runs the compiled copy of this file).
import { buildProgram } from './program.js';

await buildProgram().parseAsync(process.argv);
