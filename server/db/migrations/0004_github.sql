CREATE TABLE "github_installation" (
	"installation_id" bigint PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"account_id" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "github_member" (
	"org_id" text NOT NULL,
	"github_user_id" bigint NOT NULL,
	CONSTRAINT "github_member_org_id_github_user_id_pk" PRIMARY KEY("org_id","github_user_id")
);
--> statement-breakpoint
CREATE INDEX "github_member_user_idx" ON "github_member" USING btree ("github_user_id");