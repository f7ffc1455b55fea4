package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/upgate-dev/upgate/signing"
)

func (a *app) verifyCommand() *cobra.Command {
	var key, sig string
	cmd := &cobra.Command{
		Use:   "verify REPORT --key PUB",
		Short: "Verify a signed report (agrees with cosign verify-blob)",
		Long: `Verify that REPORT.sig (or --signature) is a valid signature over REPORT's
exact bytes by the cosign public key PUB, offline. The answer is the same
as that of:

  cosign verify-blob --key PUB --signature REPORT.sig --insecure-ignore-tlog=true REPORT

Exit 0 when the signature is good, 1 when it is bad or missing, 2 when the
key cannot be read.`,
		Example: `  upgate verify report.json --key cosign.pub`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return usageErrorf("--key is required: the cosign public key (cosign.pub)")
			}
			if sig == "" {
				sig = args[0] + ".sig"
			}
			if err := signing.VerifyFile(args[0], sig, key); err != nil {
				return err
			}
			_, err := fmt.Fprintf(a.streams.Out, "Verified OK: %s is signed by %s\n", args[0], key)
			return err
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign public key (PEM), as written by cosign generate-key-pair")
	cmd.Flags().StringVar(&sig, "signature", "", "signature file (default REPORT.sig)")
	return cmd
}
