// Invitations of Apple users (ENG-4, EUX-2): when Allot sent a user the invitation to join the
// location's VPP and with which invite code (a new code from Apple means a new invitation), how often,
// and when Apple reported the user associated (the VPP terms accepted). The outbox gets an
// `inviteUser` operation: (re)send the invitation of a user Apple already registered.
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `alter table apple_users add column invited_at timestamptz;
     alter table apple_users add column invited_code text;
     alter table apple_users add column invitation_count integer not null default 0;
     alter table apple_users add column associated_at timestamptz;
     alter table store_operations drop constraint store_operations_kind_check;
     alter table store_operations add constraint store_operations_kind_check
       check (kind in ('associate', 'disassociate', 'revoke', 'registerUser', 'inviteUser'));`,
  );
}
