package scanner

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/scannerregistration"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/scan/adapter"
	"github.com/berth-registry/berth/internal/viewer"
)

// BuiltIn names berth's built-in scanner in projects' scanner choice and
// in reports.
const BuiltIn = "berth"

// probeTimeout bounds reading an adapter's metadata at registration.
const probeTimeout = 30 * time.Second

// scannerName is what a registration may be called: it is part of the
// reports' database-state key and of the adapter's pull token's subject.
var scannerName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,39}$`)

// Registration is a scanner adapter to register.
type Registration struct {
	Name, URL, Authorization, Description string
}

// RegistrationUpdate changes a registration; nil fields stay.
type RegistrationUpdate struct {
	Name                     string
	URL, Authorization, Desc *string
	Disabled                 *bool
}

// authorizationAD binds a registration's sealed Authorization to its name.
func authorizationAD(name string) string {
	return "scanner_registration.authorization name=" + name
}

// Scanners lists the registrations by name, to any signed-in caller: the
// GraphQL layer shows only admins the URL and the authorization's presence.
func (s *Service) Scanners(ctx context.Context) ([]*ent.ScannerRegistration, error) {
	if _, err := auth.RequireUser(ctx); err != nil {
		return nil, err
	}
	return s.opts.Client.ScannerRegistration.Query().
		Order(ent.Asc(scannerregistration.FieldName)).All(viewer.SystemContext(ctx))
}

// RegisterScanner registers a scanner adapter, after reading its metadata:
// an adapter berth cannot reach, or that makes no vulnerability report of
// OCI or Docker image manifests, is refused with the adapter's answer.
func (s *Service) RegisterScanner(ctx context.Context, in Registration) (*ent.ScannerRegistration, error) {
	v, err := auth.RequireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if !scannerName.MatchString(in.Name) || in.Name == BuiltIn {
		return nil, errdefs.Invalidf("a scanner's name is 1 to 40 lower-case letters, digits, '.', '_' or '-', and not %q", BuiltIn)
	}
	if len(in.Description) > 1024 {
		return nil, errdefs.Invalidf("the description is longer than 1024 bytes")
	}
	md, mime, err := s.probe(ctx, in.Name, in.URL, in.Authorization)
	if err != nil {
		return nil, err
	}
	c := s.opts.Client.ScannerRegistration.Create().SetName(in.Name).SetURL(in.URL).
		SetDescription(in.Description).SetCreatedBy(v.Username).
		SetScannerName(md.Scanner.Name).SetScannerVendor(md.Scanner.Vendor).SetScannerVersion(md.Scanner.Version).
		SetReportMimeType(mime)
	if in.Authorization != "" {
		c.SetAuthorization(s.opts.Secrets.Seal(in.Authorization, authorizationAD(in.Name)))
	}
	r, err := c.Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, errdefs.Conflictf("a scanner named %q is registered already", in.Name)
	}
	return r, err
}

// UpdateScanner changes a registration; a new URL or authorization reads
// the adapter's metadata again.
func (s *Service) UpdateScanner(ctx context.Context, in RegistrationUpdate) (*ent.ScannerRegistration, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	r, err := s.registration(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	u := r.Update()
	if in.URL != nil || in.Authorization != nil {
		url, authz := r.URL, ""
		if in.URL != nil {
			url = *in.URL
		}
		if in.Authorization != nil {
			authz = *in.Authorization
		} else if authz, err = s.opts.Secrets.Open(r.Authorization, authorizationAD(r.Name)); err != nil {
			return nil, fmt.Errorf("the authorization of scanner %q: %w", r.Name, err)
		}
		md, mime, err := s.probe(ctx, r.Name, url, authz)
		if err != nil {
			return nil, err
		}
		u.SetURL(url).SetScannerName(md.Scanner.Name).SetScannerVendor(md.Scanner.Vendor).
			SetScannerVersion(md.Scanner.Version).SetReportMimeType(mime).SetAuthorization("")
		if authz != "" {
			u.SetAuthorization(s.opts.Secrets.Seal(authz, authorizationAD(r.Name)))
		}
	}
	if in.Desc != nil {
		if len(*in.Desc) > 1024 {
			return nil, errdefs.Invalidf("the description is longer than 1024 bytes")
		}
		u.SetDescription(*in.Desc)
	}
	if in.Disabled != nil {
		u.SetDisabled(*in.Disabled)
	}
	return u.Save(ctx)
}

// DeleteScanner deletes a registration; the projects that chose it go
// back to the system default, and if it was the default, the built-in
// scanner is. Their reports stay until their next scan.
func (s *Service) DeleteScanner(ctx context.Context, name string) (bool, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return false, err
	}
	if _, err := s.registration(ctx, name); err != nil {
		return false, err
	}
	err := database.WithTx(ctx, s.opts.Client, func(tx *ent.Tx) error {
		if _, err := tx.ScannerRegistration.Delete().Where(scannerregistration.Name(name)).Exec(ctx); err != nil {
			return err
		}
		return tx.Project.Update().Where(project.Scanner(name)).SetScanner("").Exec(ctx)
	})
	return err == nil, err
}

// SetDefaultScanner makes the registration named name the system-wide
// scanner, or with nil, the built-in one.
func (s *Service) SetDefaultScanner(ctx context.Context, name *string) error {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return err
	}
	if name != nil && *name == BuiltIn {
		name = nil
	}
	if name != nil {
		if _, err := s.registration(ctx, *name); err != nil {
			return err
		}
	}
	return database.WithTx(ctx, s.opts.Client, func(tx *ent.Tx) error {
		if err := tx.ScannerRegistration.Update().Where(scannerregistration.IsDefault(true)).SetIsDefault(false).Exec(ctx); err != nil {
			return err
		}
		if name == nil {
			return nil
		}
		return tx.ScannerRegistration.Update().Where(scannerregistration.Name(*name)).SetIsDefault(true).Exec(ctx)
	})
}

// SetProjectScanner chooses a project's scanner (project admins): a
// registration's name, BuiltIn, or nil for the system default.
func (s *Service) SetProjectScanner(ctx context.Context, projectName string, scanner *string) (*ent.Project, error) {
	p, err := s.opts.Auth.ProjectCan(ctx, projectName, auth.ProjectUpdate)
	if err != nil {
		return nil, err
	}
	if viewer.FromContext(ctx).ReadOnly {
		return nil, errdefs.Deniedf("this access token is read-only")
	}
	choice := ""
	if scanner != nil {
		choice = *scanner
	}
	if choice != "" && choice != BuiltIn {
		if _, err := s.opts.Client.ScannerRegistration.Query().
			Where(scannerregistration.Name(choice)).Only(viewer.SystemContext(ctx)); ent.IsNotFound(err) {
			return nil, errdefs.Invalidf("no scanner named %q is registered", choice)
		} else if err != nil {
			return nil, err
		}
	}
	return p.Update().SetScanner(choice).Save(viewer.SystemContext(ctx))
}

// registration returns the registration named name, to an admin.
func (s *Service) registration(ctx context.Context, name string) (*ent.ScannerRegistration, error) {
	r, err := s.opts.Client.ScannerRegistration.Query().Where(scannerregistration.Name(name)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errdefs.NotFoundf("no scanner named %q is registered", name)
	}
	return r, err
}

// probe reads an adapter's metadata and picks the report type berth asks
// it for: a vulnerability report of OCI image manifests, else of Docker
// ones.
func (s *Service) probe(ctx context.Context, name, url, authorization string) (*adapter.Metadata, string, error) {
	c, err := adapter.New(adapter.Options{Name: name, URL: url, Authorization: authorization, HTTPClient: s.adapterHTTP})
	if err != nil {
		return nil, "", err // errdefs.ErrInvalid already
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	md, err := c.Metadata(ctx)
	if err != nil {
		var ae *adapter.Error
		if errors.As(err, &ae) {
			return nil, "", errdefs.Invalidf("%v", err)
		}
		return nil, "", err
	}
	for _, t := range []string{mediaOCIManifest, mediaDockerManifest} {
		if mime, ok := md.ReportMIMEType(t); ok {
			return md, mime, nil
		}
	}
	return nil, "", errdefs.Invalidf("scanner adapter %q (%s %s): it makes no vulnerability report of OCI or Docker image manifests",
		name, md.Scanner.Name, md.Scanner.Version)
}
