//! Passkeys (WebAuthn credentials) and the challenges of ceremonies in
//! progress.
//!
//! `passkeys.credential` is webauthn-rs's serialized `Passkey` (public key,
//! sign count, backup flags, transports): public material, no secret.
//! `credential_id` (base64url) is unique across all accounts, so a
//! credential cannot be registered to two of them, and a discoverable
//! sign-in finds its passkey by one index lookup. `user_handle` is the
//! random WebAuthn user id the authenticator stores (never the account id).
//!
//! `passkey_challenges` holds the server side of a ceremony (webauthn-rs's
//! registration or authentication state) keyed by the SHA-256 of its
//! challenge, which the browser's answer carries back; a row is deleted
//! when used, and is worthless after `expires_at` (five minutes).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Passkeys::Table)
                    .if_not_exists()
                    .col(pk_auto(Passkeys::Id))
                    .col(integer(Passkeys::UserId))
                    .col(string_len(Passkeys::Name, 64))
                    .col(string_len_uniq(Passkeys::CredentialId, 1400))
                    .col(string_len(Passkeys::UserHandle, 36))
                    .col(text(Passkeys::Credential))
                    .col(big_integer(Passkeys::SignCount))
                    .col(boolean(Passkeys::BackupEligible))
                    .col(boolean(Passkeys::BackupState))
                    // Comma-separated, as the authenticator reported them.
                    .col(string_len(Passkeys::Transports, 128))
                    .col(timestamp_with_time_zone(Passkeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(Passkeys::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("passkeys_user_id_fkey")
                            .from(Passkeys::Table, Passkeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("passkeys_user_id_idx")
                    .table(Passkeys::Table)
                    .col(Passkeys::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PasskeyChallenges::Table)
                    .if_not_exists()
                    .col(pk_auto(PasskeyChallenges::Id))
                    .col(string_len_uniq(PasskeyChallenges::ChallengeHash, 64))
                    // "register", "sign_in", "second_factor" or "confirm".
                    .col(string_len(PasskeyChallenges::Purpose, 16))
                    // Whose ceremony: the account registering or confirming,
                    // or the account of a pending sign-in; none for a
                    // sign-in that has not named an account.
                    .col(integer_null(PasskeyChallenges::UserId))
                    .col(text(PasskeyChallenges::State))
                    .col(timestamp_with_time_zone(PasskeyChallenges::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("passkey_challenges_expires_at_idx")
                    .table(PasskeyChallenges::Table)
                    .col(PasskeyChallenges::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PasskeyChallenges::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Passkeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    UserId,
    Name,
    CredentialId,
    UserHandle,
    Credential,
    SignCount,
    BackupEligible,
    BackupState,
    Transports,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum PasskeyChallenges {
    Table,
    Id,
    ChallengeHash,
    Purpose,
    UserId,
    State,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
