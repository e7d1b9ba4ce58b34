// The twin extension: starts `twinc lsp` for `.twin` files and restarts it
// when its settings change. Everything the editor shows (diagnostics,
// hover, completion, ...) comes from the server; this file only wires it.

import * as vscode from "vscode";
import {
  Executable,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

function serverOptions(): ServerOptions {
  const config = vscode.workspace.getConfiguration("twin");
  const command = config.get<string>("server.path") || "twinc";
  const extraEnv = config.get<Record<string, string>>("server.extraEnv") ?? {};
  const run: Executable = {
    command,
    args: ["lsp"],
    options: { env: { ...process.env, ...extraEnv } },
  };
  return { run, debug: run };
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: "twin" }],
    outputChannelName: "twin",
  };
  client = new LanguageClient("twin", "twin", serverOptions(), clientOptions);
  try {
    await client.start();
  } catch (err) {
    const path = vscode.workspace.getConfiguration("twin").get<string>("server.path");
    void vscode.window.showErrorMessage(
      `twin: cannot start \`${path} lsp\` (${err}). Set "twin.server.path" to the twinc executable.`,
    );
  }
  context.subscriptions.push({ dispose: () => void client?.stop() });
}

async function restart(context: vscode.ExtensionContext): Promise<void> {
  if (client) {
    await client.stop();
    client = undefined;
  }
  await start(context);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("twin.restartServer", () => restart(context)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("twin.server")) {
        void restart(context);
      }
    }),
  );
  await start(context);
}

export async function deactivate(): Promise<void> {
  if (client) {
    await client.stop();
  }
}
