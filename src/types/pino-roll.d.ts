/** pino-roll ships no types: what Nimbus uses of it (the `build` stream factory, README of pino-roll 4). */
declare module 'pino-roll' {
  interface PinoRollOptions {
    file: string;
    size?: string | number;
    frequency?: string | number;
    extension?: string;
    mkdir?: boolean;
    limit?: { count?: number; removeOtherLogFiles?: boolean };
  }
  export default function build(options: PinoRollOptions): Promise<NodeJS.WritableStream & { flushSync(): void }>;
}
