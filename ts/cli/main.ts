// The `greater` command line: one subcommand per file in this folder; this file only wires them.
import { Command, CommanderError } from "commander";
import { infoCommand } from "./info.js";

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name("greater")
    .description("GReaTer prompt optimization (gradients over reasoning) for open language models")
    .exitOverride()
    .showHelpAfterError();

  let exitCode = 0;
  program
    .command("info")
    .description("engine, libtorch and devices")
    .option("--json", "print one JSON object")
    .action((options: { json?: boolean }) => {
      exitCode = infoCommand(options);
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    console.error(`greater: ${(e as Error).message}`);
    return 1;
  }
}
