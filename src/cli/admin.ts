// `allot admin create`, `allot tenant create`, `allot scim-token create`: thin wrappers over the
// admin API (/beta/admin/*), run through withApi.
import type { Command } from "commander";
import { loadConfig } from "../config/env.ts";
import { roles } from "../modules/access/roles.ts";
import { addApiOptions, apiOptionsOf, CliError, output, secretOption, withApi } from "./client.ts";

const PASSWORD_ENV = "ALLOT_ADMIN_PASSWORD";

function parseRoles(value: string | undefined): string[] {
  const list = (value ?? "globalAdministrator")
    .split(",")
    .map((r) => r.trim())
    .filter(Boolean);
  const unknown = list.filter((r) => !(roles as readonly string[]).includes(r));
  if (list.length === 0 || unknown.length > 0)
    throw new CliError(
      `--roles: ${unknown.length ? `'${unknown.join("', '")}' is not a role` : "no role given"}; expected a comma-separated list of ${roles.join(", ")}.`,
    );
  return list;
}

export function registerAdminCommands(program: Command): void {
  const admin = program.command("admin").description("manage administrators (local console accounts)");
  addApiOptions(
    admin
      .command("create")
      .description(
        `create an administrator; the password may come from $${PASSWORD_ENV} instead of --password`,
      )
      .requiredOption("--email <email>", "sign-in e-mail address (userPrincipalName)")
      .option("--password <password>", `password, at least 12 characters (default: $${PASSWORD_ENV})`)
      .option("--roles <roles>", `comma-separated roles: ${roles.join(", ")}`, "globalAdministrator")
      .option("--display-name <name>", "display name (default: the e-mail address)"),
  ).action(
    async (
      opts: { email: string; password?: string; roles?: string; displayName?: string },
      cmd: Command,
    ) => {
      const body = {
        userPrincipalName: opts.email,
        password: secretOption(opts.password, PASSWORD_ENV, "--password"),
        roles: parseRoles(opts.roles),
        ...(opts.displayName ? { displayName: opts.displayName } : {}),
      };
      const created = await withApi(
        loadConfig(),
        (api) => api.json("POST", "/beta/admin/administrators", body),
        apiOptionsOf(cmd),
      );
      output(
        cmd,
        created,
        `Created administrator ${created.userPrincipalName} (id ${created.id}) with roles ${created.roles.join(", ")}.`,
      );
    },
  );

  const tenant = program.command("tenant").description("manage tenants");
  addApiOptions(
    tenant
      .command("create")
      .description(
        `create a tenant, optionally with its first Global administrator (password from --admin-password or $${PASSWORD_ENV})`,
      )
      .requiredOption("--name <name>", "display name of the tenant")
      .option("--admin-email <email>", "e-mail address of the tenant's first Global administrator")
      .option("--admin-password <password>", `that administrator's password (default: $${PASSWORD_ENV})`),
  ).action(async (opts: { name: string; adminEmail?: string; adminPassword?: string }, cmd: Command) => {
    if (opts.adminPassword && !opts.adminEmail) throw new CliError("--admin-password needs --admin-email.");
    const body = {
      displayName: opts.name,
      ...(opts.adminEmail
        ? {
            adminUserPrincipalName: opts.adminEmail,
            adminPassword: secretOption(opts.adminPassword, PASSWORD_ENV, "--admin-password"),
          }
        : {}),
    };
    const created = await withApi(
      loadConfig(),
      (api) => api.json("POST", "/beta/admin/tenants", body),
      apiOptionsOf(cmd),
    );
    const lines = [`Created tenant '${created.displayName}' with id ${created.id}.`];
    if (created.administrator)
      lines.push(
        `Its Global administrator ${created.administrator.userPrincipalName} can sign in to the console now.`,
      );
    output(cmd, created, lines.join("\n"));
  });

  const scim = program.command("scim-token").description("manage SCIM provisioning tokens");
  addApiOptions(
    scim
      .command("create")
      .description("create a SCIM bearer token for an identity provider (shown once)")
      .option("--name <name>", "a name for the token, e.g. the identity provider", "SCIM provisioning"),
  ).action(async (opts: { name: string }, cmd: Command) => {
    const config = loadConfig();
    const { created, baseUrl } = await withApi(
      config,
      async (api) => ({
        created: await api.json("POST", "/beta/admin/scimTokens", { displayName: opts.name }),
        // The in-process server's port is gone when the command ends; name the configured address.
        baseUrl:
          config.ALLOT_PUBLIC_URL ??
          (api.mode === "in-process" ? `http://${config.HOST}:${config.PORT}` : api.baseUrl),
      }),
      apiOptionsOf(cmd),
    );
    const scimUrl = `${baseUrl.replace(/\/$/, "")}/scim/v2`;
    output(
      cmd,
      { ...created, scimUrl },
      [
        `Created SCIM token '${created.displayName}' (id ${created.id}).`,
        `Tenant URL: ${scimUrl}`,
        `Secret token (shown only now, store it in your identity provider):`,
        `  ${created.token}`,
      ].join("\n"),
    );
  });
}
