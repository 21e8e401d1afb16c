import type { Command } from "./command.js";
import { customer } from "./customer.js";
import { status } from "./status.js";
import { token } from "./token.js";

/** Every CLI command, in the order `help` lists them. */
export const commands: readonly Command[] = [status, token, customer];
