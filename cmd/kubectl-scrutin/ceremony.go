package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/belenios"
)

// maxCeremonyFile bounds what is read of one ceremony file (a deals file
// holds every member's encrypted shares to every member).
const maxCeremonyFile = 64 << 20

func (a *app) trusteeCeremonyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ceremony",
		Short: "The key ceremony of trustees sharing a key t of n (Pedersen), offline",
		Long: `The key ceremony for trustees who share an Election's key so that any t of the
n can decrypt, and fewer learn nothing (Belenios's threshold trustees). Each
trustee runs their steps on their own machine; a coordinator (the organiser,
who may be one of the trustees) runs theirs. Only public files go between them,
by any channel: what is private (a trustee's key and share) never leaves its
machine, and the shares dealt from one trustee to another are encrypted to the
recipient and signed.

  step  who          command                                   send
  1     each trustee ceremony key --out DIR                     DIR/NAME.cert to the coordinator
  2     coordinator  ceremony start --threshold T CERT...       ceremony.json to every trustee
  3     each trustee ceremony deal --ceremony F --key K         deal to the coordinator
  4     coordinator  ceremony collect --ceremony F DEAL...      deals.json to every trustee
  5     each trustee ceremony share --ceremony F --key K        NAME.vk to the coordinator
                       --deals D --out DIR
  6     coordinator  ceremony finish --ceremony F --deals D     the entry, for the Election,
                       VK...                                    to every trustee
  7     each trustee ceremony check --entry E --share S         -

Step 2 fixes the members' order, that of the certificates given. Step 6 prints
the string for spec.verifiability.trustees.threshold.trustees. The key file
(step 1) is needed until step 5 only; the share (step 5) is the trustee's
decryption key: keep it until the tally, then use it with trustee decrypt.`,
	}
	cmd.AddCommand(a.ceremonyKeyCommand(), a.ceremonyStartCommand(), a.ceremonyDealCommand(),
		a.ceremonyCollectCommand(), a.ceremonyShareCommand(), a.ceremonyFinishCommand(), a.ceremonyCheckCommand())
	return cmd
}

// ceremonyInputs reads ceremony files, each one or more lines of JSON, as one
// stream of lines.
func ceremonyInputs(paths ...string) (io.Reader, error) {
	var all bytes.Buffer
	for _, p := range paths {
		raw, err := readBounded(p, maxCeremonyFile)
		if err != nil {
			return nil, err
		}
		all.Write(bytes.TrimSpace(raw))
		all.WriteByte('\n')
	}
	return &all, nil
}

// writeOutputs writes each file (none may exist; on a failure, those written
// are removed).
func writeOutputs(files []outFile) error {
	for _, f := range files {
		if _, err := os.Lstat(f.path); err == nil {
			return fmt.Errorf("%s already exists: the ceremony overwrites nothing", f.path)
		}
	}
	for i, f := range files {
		if err := writeNew(f.path, f.content, f.mode); err != nil {
			for _, done := range files[:i] {
				os.Remove(done.path)
			}
			return err
		}
	}
	return nil
}

type outFile struct {
	path    string
	content []byte
	mode    os.FileMode
}

func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return usageError{fmt.Errorf("--name %q: give a file name, without a directory", name)}
	}
	return nil
}

func required(flag, value, why string) error {
	if value == "" {
		return usageError{fmt.Errorf("--%s is required: %s", flag, why)}
	}
	return nil
}

func (a *app) ceremonyKeyCommand() *cobra.Command {
	var out, name string
	cmd := &cobra.Command{
		Use:   "key --out DIR [--name NAME]",
		Short: "Step 1 (each trustee): make your ceremony key and certificate",
		Long: `Step 1, run by each trustee on their own machine: writes DIR/NAME.ceremony-key
(PRIVATE, mode 0600, needed until step 5) and DIR/NAME.cert, the certificate to
send to the coordinator.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("out", out, "the directory the files are written in"); err != nil {
				return err
			}
			if err := checkName(name); err != nil {
				return err
			}
			var key, cert bytes.Buffer
			if err := belenios.CeremonyStep1(belenios.Belenios2048(), &key, &cert); err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			keyPath, certPath := filepath.Join(out, name+".ceremony-key"), filepath.Join(out, name+".cert")
			if err := writeOutputs([]outFile{{keyPath, key.Bytes(), 0o600}, {certPath, cert.Bytes(), 0o644}}); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Wrote your ceremony key to %s (private: keep it on this machine until step 5).\n", keyPath)
			fmt.Fprintf(a.stdout, "Send %s to the coordinator.\n", certPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write the files in (required)")
	cmd.Flags().StringVar(&name, "name", "trustee", "name of the files: NAME.ceremony-key and NAME.cert")
	return cmd
}

func (a *app) ceremonyStartCommand() *cobra.Command {
	var (
		out       string
		threshold int
	)
	cmd := &cobra.Command{
		Use:   "start --threshold T --out FILE CERT...",
		Short: "Step 2 (coordinator): start the ceremony from every trustee's certificate",
		Long: `Step 2, run by the coordinator: checks every trustee's certificate and writes
the ceremony file, to send to every trustee. The certificates' order is the
members' order: member j is the j-th certificate given. T is how many members
are needed to decrypt (from 1 to the number of members).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("CERT is required: every trustee's certificate, in member order")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("out", out, "the ceremony file to write"); err != nil {
				return err
			}
			if threshold < 1 || threshold > len(args) {
				return usageError{fmt.Errorf("--threshold %d: give how many of the %d members are needed to decrypt, from 1 to %d", threshold, len(args), len(args))}
			}
			in, err := ceremonyInputs(args...)
			if err != nil {
				return err
			}
			var c bytes.Buffer
			if err := belenios.CeremonyStep2(belenios.Belenios2048(), threshold, in, &c); err != nil {
				return err
			}
			if err := writeOutputs([]outFile{{out, c.Bytes(), 0o644}}); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Wrote the ceremony (%d of %d members) to %s: send it to every trustee.\n", threshold, len(args), out)
			for i, p := range args {
				fmt.Fprintf(a.stdout, "  member %d: %s\n", i+1, p)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the ceremony file to write (required)")
	cmd.Flags().IntVar(&threshold, "threshold", 0, "how many members are needed to decrypt (required)")
	return cmd
}

func (a *app) ceremonyDealCommand() *cobra.Command {
	var ceremony, key, out string
	cmd := &cobra.Command{
		Use:   "deal --ceremony FILE --key FILE --out FILE",
		Short: "Step 3 (each trustee): deal your shares, encrypted to each member",
		Long: `Step 3, run by each trustee with their ceremony key: writes their deal (the
commitments to a secret polynomial and one share for each member, encrypted to
that member, all signed), to send to the coordinator.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, r := range [][3]string{{"ceremony", ceremony, "the ceremony file the coordinator sent"}, {"key", key, "your ceremony key (step 1)"}, {"out", out, "the deal file to write"}} {
				if err := required(r[0], r[1], r[2]); err != nil {
					return err
				}
			}
			c, k, err := ceremonyFiles(ceremony, key)
			if err != nil {
				return err
			}
			var d bytes.Buffer
			if err := belenios.CeremonyStep3(belenios.Belenios2048(), c, k, &d); err != nil {
				return err
			}
			if err := writeOutputs([]outFile{{out, d.Bytes(), 0o644}}); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Wrote your deal to %s: send it to the coordinator.\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&ceremony, "ceremony", "", "the ceremony file (required)")
	cmd.Flags().StringVar(&key, "key", "", "your ceremony key, from step 1 (required)")
	cmd.Flags().StringVar(&out, "out", "", "the deal file to write (required)")
	return cmd
}

func ceremonyFiles(paths ...string) (io.Reader, io.Reader, error) {
	var rs []io.Reader
	for _, p := range paths {
		raw, err := readBounded(p, maxCeremonyFile)
		if err != nil {
			return nil, nil, err
		}
		rs = append(rs, bytes.NewReader(raw))
	}
	return rs[0], rs[1], nil
}

func (a *app) ceremonyCollectCommand() *cobra.Command {
	var ceremony, out string
	cmd := &cobra.Command{
		Use:   "collect --ceremony FILE --out FILE DEAL...",
		Short: "Step 4 (coordinator): check and bundle every trustee's deal",
		Long: `Step 4, run by the coordinator: checks every member's deal (signature,
commitments, one share per member) and writes the deals file, to send to every
trustee.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("DEAL is required: every trustee's deal")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("ceremony", ceremony, "the ceremony file"); err != nil {
				return err
			}
			if err := required("out", out, "the deals file to write"); err != nil {
				return err
			}
			c, err := readBounded(ceremony, maxCeremonyFile)
			if err != nil {
				return err
			}
			in, err := ceremonyInputs(args...)
			if err != nil {
				return err
			}
			var d bytes.Buffer
			if err := belenios.CeremonyStep4(belenios.Belenios2048(), bytes.NewReader(c), in, &d); err != nil {
				return err
			}
			if err := writeOutputs([]outFile{{out, d.Bytes(), 0o644}}); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Wrote the %d deals to %s: send it to every trustee.\n", len(args), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&ceremony, "ceremony", "", "the ceremony file (required)")
	cmd.Flags().StringVar(&out, "out", "", "the deals file to write (required)")
	return cmd
}

func (a *app) ceremonyShareCommand() *cobra.Command {
	var ceremony, key, deals, out, name string
	cmd := &cobra.Command{
		Use:   "share --ceremony FILE --key FILE --deals FILE --out DIR [--name NAME]",
		Short: "Step 5 (each trustee): open your shares, make your decryption key",
		Long: `Step 5, run by each trustee with their ceremony key: opens the shares every
member dealt them, checks each against its dealer's commitments, and writes
DIR/NAME.share, their decryption key (PRIVATE, mode 0600: keep it until the
tally, for trustee decrypt), and DIR/NAME.vk, their verification key, to send to
the coordinator. The ceremony key is not needed any more.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, r := range [][3]string{{"ceremony", ceremony, "the ceremony file"}, {"key", key, "your ceremony key (step 1)"}, {"deals", deals, "the deals file the coordinator sent"}, {"out", out, "the directory the files are written in"}} {
				if err := required(r[0], r[1], r[2]); err != nil {
					return err
				}
			}
			if err := checkName(name); err != nil {
				return err
			}
			c, k, err := ceremonyFiles(ceremony, key)
			if err != nil {
				return err
			}
			d, err := readBounded(deals, maxCeremonyFile)
			if err != nil {
				return err
			}
			var share, vk bytes.Buffer
			if err := belenios.CeremonyStep5(belenios.Belenios2048(), c, k, bytes.NewReader(d), &share, &vk); err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			sharePath, vkPath := filepath.Join(out, name+".share"), filepath.Join(out, name+".vk")
			if err := writeOutputs([]outFile{{sharePath, share.Bytes(), 0o600}, {vkPath, vk.Bytes(), 0o644}}); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Wrote your decryption key to %s (private: keep it on this machine until the tally).\n", sharePath)
			fmt.Fprintf(a.stdout, "Send %s to the coordinator. Your ceremony key is not needed any more.\n", vkPath)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ceremony, "ceremony", "", "the ceremony file (required)")
	f.StringVar(&key, "key", "", "your ceremony key, from step 1 (required)")
	f.StringVar(&deals, "deals", "", "the deals file, from step 4 (required)")
	f.StringVar(&out, "out", "", "directory to write the files in (required)")
	f.StringVar(&name, "name", "trustee", "name of the files: NAME.share and NAME.vk")
	return cmd
}

func (a *app) ceremonyFinishCommand() *cobra.Command {
	var ceremony, deals, out string
	cmd := &cobra.Command{
		Use:   "finish --ceremony FILE --deals FILE --out FILE VK...",
		Short: "Step 6 (coordinator): make the trustees' entry for the Election",
		Long: `Step 6, run by the coordinator: checks every member's verification key (its
proof, and that it matches the deals) and writes the Pedersen entry, public, to
FILE. It prints the Election's spec.verifiability.trustees.threshold stanza;
send the entry to every trustee too, for step 7.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("VK is required: every trustee's verification key")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, r := range [][3]string{{"ceremony", ceremony, "the ceremony file"}, {"deals", deals, "the deals file"}, {"out", out, "the entry file to write"}} {
				if err := required(r[0], r[1], r[2]); err != nil {
					return err
				}
			}
			c, d, err := ceremonyFiles(ceremony, deals)
			if err != nil {
				return err
			}
			vks, err := ceremonyInputs(args...)
			if err != nil {
				return err
			}
			var entry bytes.Buffer
			if err := belenios.CeremonyStep6(belenios.Belenios2048(), c, d, vks, &entry); err != nil {
				return err
			}
			if err := writeOutputs([]outFile{{out, entry.Bytes(), 0o644}}); err != nil {
				return err
			}
			stanza, err := yaml.Marshal(struct {
				Verifiability scrutinv1.Verifiability `json:"verifiability"`
			}{scrutinv1.Verifiability{
				Mode:     scrutinv1.VerifiabilityBelenios,
				Trustees: &scrutinv1.Trustees{Threshold: &scrutinv1.ThresholdTrustees{Trustees: strings.TrimSpace(entry.String())}},
			}})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "Wrote the trustees' entry to %s: send it to every trustee (step 7).\n", out)
			fmt.Fprintln(a.stdout, "# the Election's spec:")
			_, err = a.stdout.Write(stanza)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&ceremony, "ceremony", "", "the ceremony file (required)")
	f.StringVar(&deals, "deals", "", "the deals file (required)")
	f.StringVar(&out, "out", "", "the entry file to write (required)")
	return cmd
}

func (a *app) ceremonyCheckCommand() *cobra.Command {
	var entry, share string
	cmd := &cobra.Command{
		Use:   "check --entry FILE --share FILE",
		Short: "Step 7 (each trustee): check the entry and find your place in it",
		Long: `Step 7, run by each trustee: checks the published entry (every proof and
signature) and that your share is one of its members'; prints which member you
are. Your owner number in the Election (trustee decrypt --owner) is the number
of trustees listed before the entry plus this one: the platform's trustee comes
first when the Election has it, then the external trustees in spec order.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("entry", entry, "the entry file the coordinator sent"); err != nil {
				return err
			}
			if err := required("share", share, "your decryption key (step 5)"); err != nil {
				return err
			}
			e, s, err := ceremonyFiles(entry, share)
			if err != nil {
				return err
			}
			j, err := belenios.CeremonyStep7(belenios.Belenios2048(), e, s)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "The entry checks; your share is member %d's.\n", j)
			return nil
		},
	}
	cmd.Flags().StringVar(&entry, "entry", "", "the Pedersen entry, from step 6 (required)")
	cmd.Flags().StringVar(&share, "share", "", "your decryption key, from step 5 (required)")
	return cmd
}
