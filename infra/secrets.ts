import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { childOf } from "./component.js";

export interface SecretsArgs {
  /** `keeperhub:dbPassword`; when unset, the generated 32-character password. */
  readonly dbPassword?: pulumi.Output<string>;
  /**
   * `keeperhub:encryptionKey` (INTEGRATION_ENCRYPTION_KEY); when unset, the generated 32 random bytes (64
   * hex characters). Changing it makes every stored integration credential unreadable.
   */
  readonly encryptionKey?: pulumi.Output<string>;
}

/**
 * The stack's two secrets, from config or generated; both outputs are Pulumi secrets. The generated values
 * are always declared, set or not, so they are made once and kept in state for the stack's life: setting
 * the config overrides them, and unsetting it returns to the same generated value, never a new one (the
 * password then reaches the database with ALTER ROLE, as any change does).
 */
export class Secrets extends pulumi.ComponentResource {
  readonly dbPassword: pulumi.Output<string>;
  readonly encryptionKey: pulumi.Output<string>;

  constructor(name: string, args: SecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Secrets", name, {}, opts);
    // Letters and digits: readable in `--show-secrets`; URLs encode whatever a chosen password holds.
    const password = new random.RandomPassword(
      `${name}-db-password`,
      { length: 32, special: false },
      childOf(this, opts),
    );
    const key = new random.RandomBytes(`${name}-encryption-key`, { length: 32 }, childOf(this, opts));
    this.dbPassword = pulumi.secret(args.dbPassword ?? password.result);
    this.encryptionKey = pulumi.secret(args.encryptionKey ?? key.hex);
    this.registerOutputs({ dbPassword: this.dbPassword, encryptionKey: this.encryptionKey });
  }
}
