// The module the fork tests load into a zygote: init builds state once, work reads it.

import { readFileSync } from "node:fs";

let squares: number[] = [];
let marker = "";

export function init(): void {
  squares = Array.from({ length: 2000 }, (_, i) => i * i);
  marker = `built-by-${process.pid}`;
}

/** Prints "id square CLONE_ID marker" so the test can check each clone's view. */
export function work(id: number): void {
  process.stdout.write(`${id} ${squares[id]} ${process.env.CLONE_ID} ${marker}\n`);
}

/** Prints the square and the first line of the data file the mapper may read. */
export function mapData(id: number): void {
  const data = readFileSync(process.env.DATA_FILE!, "utf8").trim().split("\n");
  process.stdout.write(`${Number(data[id]) ** 2}\n`);
}

export async function slowInit(): Promise<void> {
  await new Promise((r) => setTimeout(r, 50));
  marker = "async-init";
}

export function failingInit(): void {
  throw new Error("boom in init");
}

export function notAFunction(): void {}
export const value = 42;
