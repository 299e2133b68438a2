// Asking the person at the terminal one question (stdin is a TTY): the answer
// line, or '' when input ends first (Ctrl-D).

import { createInterface } from 'node:readline';

export function askLine(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer);
    });
    rl.once('close', () => {
      if (!answered) resolve('');
    });
  });
}
